"""Docs that cannot drift: completions and the README's CLI reference are regenerated and compared."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli._run import HOMEOPS, ROOT, clean_env

_spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
assert _spec and _spec.loader
gen_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_docs)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_current(shell: str) -> None:
    committed = (ROOT / "completions" / f"homeops.{shell}").read_text(encoding="utf-8")
    assert committed == gen_docs.completion(shell), "run .venv/bin/python scripts/gen_docs.py"


def test_zsh_script_is_a_compdef() -> None:
    assert (ROOT / "completions" / "homeops.zsh").read_text().startswith("#compdef homeops")


def test_readme_cli_reference_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == gen_docs.readme_with_reference(readme, gen_docs.cli_reference()), (
        "run .venv/bin/python scripts/gen_docs.py"
    )


def test_readme_reference_covers_every_command() -> None:
    from homeops.manifest import build_manifest

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for entry in build_manifest():
        assert f"### homeops {entry.command}\n" in readme, entry.command


def _bash_complete(words: str, cword: int) -> list[str]:
    bash = shutil.which("bash")
    assert bash
    script = (
        f"source {ROOT / 'completions' / 'homeops.bash'}\n"
        f"COMP_WORDS=({words}); COMP_CWORD={cword}\n"
        "_homeops_completion homeops\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = clean_env({"PATH": f"{Path(HOMEOPS).parent}:/usr/bin:/bin"})
    proc = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.split("\n") if w]


def test_bash_really_completes_fa_to_fan() -> None:
    assert _bash_complete("homeops fa", 1) == ["fan"]


def test_bash_completes_top_level_commands() -> None:
    assert set(_bash_complete("homeops sch", 1)) == {"schedule"}
    assert {"list", "render"} <= set(_bash_complete("homeops schedule ''", 2))
