"""The `homeops job-hunter` group."""
