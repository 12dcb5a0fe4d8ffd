"""Secrets: the ones harborgen manages, their references in rendered files, the secrets file, and each node's pack."""
