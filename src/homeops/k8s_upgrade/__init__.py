"""The `homeops k8s-upgrade` group."""
