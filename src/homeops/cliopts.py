"""CLI: the option types every group shares, so ``--json``, ``--dry-run`` and ``--yes`` read the same."""

from __future__ import annotations

from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document (sorted keys) on stdout.")]
JsonLinesFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object per event (JSON Lines).")]
DryRunFlag = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]
YesFlag = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (required off a TTY).")]
