"""The `homeops fan` group."""
