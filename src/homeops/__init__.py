"""homeops: one command that runs the homelab."""

__version__ = "0.1.0"
