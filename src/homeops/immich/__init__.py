"""The `homeops immich` group."""
