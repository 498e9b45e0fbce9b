"""The `homeops woodpecker` group."""
