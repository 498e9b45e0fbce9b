"""The `homeops registry` group."""
