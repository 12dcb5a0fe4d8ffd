"""harborgen: compile one topology into per-machine bundles of a highly-available Harbor cluster (one target per Harbor version: generator/targets/)."""

__version__ = "0.1.0"
