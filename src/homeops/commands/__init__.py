"""Top-level commands: manifest, config, doctor, schedule, runbook, version."""
