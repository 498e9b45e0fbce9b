"""The `homeops kms` group."""
