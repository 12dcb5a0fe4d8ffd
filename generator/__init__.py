"""harborgen: compile one topology into per-machine bundles of a highly-available Harbor cluster (1.1.2 or 2.15)."""

__version__ = "0.1.0"
