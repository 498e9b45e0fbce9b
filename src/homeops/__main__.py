"""``python -m homeops``."""

from homeops.cli import main

main()
