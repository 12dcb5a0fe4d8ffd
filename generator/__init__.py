"""harborgen: compile one topology into per-machine bundles of a highly-available Harbor 1.1.2 cluster."""

__version__ = "0.1.0"
