"""The `homeops dns` group."""
