"""The `homeops nfs` group."""
