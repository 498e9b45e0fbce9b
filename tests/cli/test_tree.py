"""The root command tree: lazy loading, every group importable, exit codes and the one-line error rule."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
import typer

from homeops.groups import ENTRIES, GROUPS
from tests.cli._run import clean_env, run_homeops

HEAVY = (
    "kubernetes",
    "paramiko",
    "pyghmi",
    "hvac",
    "httpx",
    "prometheus_client",
    "psycopg",
    "dns",
    "jwt",
    "yaml",
)


def _imported_by(argv_code: str, env_extra: dict[str, str] | None = None) -> set[str]:
    """Top-level module names a fresh interpreter imported while running ``argv_code``."""
    code = f"import sys\n{argv_code}\nprint('\\n'.join(sorted(sys.modules)), file=sys.__stderr__)\n"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(env_extra), timeout=60
    )
    return set(proc.stderr.split())


def _heavy_or_groups(modules: set[str]) -> set[str]:
    bad = {m for m in modules if m.split(".")[0] in HEAVY}
    bad |= {m for m in modules if any(m == g.package.rsplit(".", 1)[0] for g in GROUPS)}
    return bad


def test_help_imports_no_group_and_no_heavy_library() -> None:
    modules = _imported_by(
        "sys.argv = ['homeops', '--help']\nfrom homeops.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert "homeops.cli" in modules
    assert _heavy_or_groups(modules) == set()


def test_version_imports_no_group_and_no_heavy_library() -> None:
    modules = _imported_by("sys.argv = ['homeops', '--version']\nfrom homeops.cli import main\nmain()")
    assert _heavy_or_groups(modules) == set()


def test_root_completion_imports_no_group_and_no_heavy_library() -> None:
    modules = _imported_by(
        "sys.argv = ['homeops']\nfrom homeops.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
        {"_HOMEOPS_COMPLETE": "complete_bash", "COMP_WORDS": "homeops fa", "COMP_CWORD": "1"},
    )
    assert "homeops.cli" in modules
    assert _heavy_or_groups(modules) == set()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_table_entry_imports_and_is_a_typer_app(entry: object) -> None:
    module_name, _, attr = entry.import_path.partition(":")  # type: ignore[attr-defined]
    sub_app = getattr(importlib.import_module(module_name), attr)
    assert isinstance(sub_app, typer.Typer)
    assert typer.main.get_command(sub_app) is not None


def test_root_help_lists_every_group_and_command() -> None:
    proc = run_homeops("--help")
    assert proc.returncode == 0
    for entry in ENTRIES:
        assert re.search(rf"\b{re.escape(entry.name)}\b", proc.stdout), entry.name


def test_version_flag_and_command_agree() -> None:
    flag = run_homeops("--version")
    cmd = run_homeops("version")
    assert flag.returncode == cmd.returncode == 0
    assert flag.stdout == cmd.stdout
    assert re.fullmatch(r"homeops \d+\.\d+\.\d+\n", flag.stdout)


def test_python_dash_m_works() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "homeops", "--version"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("homeops ")


def test_unknown_command_is_a_usage_error() -> None:
    proc = run_homeops("no-such-group")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_expected_error_is_one_line_with_group_prefix() -> None:
    proc = run_homeops("schedule", "render", "no-such-job", "--as", "systemd")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("homeops schedule: no scheduled job called 'no-such-job' — ")


def test_group_without_commands_says_so() -> None:
    built = {"fan", "kms", "registry", "dns"}
    unbuilt = [g.name for g in GROUPS if g.name not in built]
    if not unbuilt:
        pytest.skip("every group is built")
    proc = run_homeops(unbuilt[0])
    assert proc.returncode == 2
    assert "has no commands yet" in proc.stderr


def test_fast_root_help_names_the_same_options_as_the_typer_app() -> None:
    from homeops._app import app
    from homeops.cli import ROOT_OPTIONS

    root = typer.main.get_command(app)
    ctx = root.make_context("homeops", [], resilient_parsing=True)
    typer_opts = {opt for p in root.get_params(ctx) for opt in p.opts}
    fast_opts = {o.strip() for text, _ in ROOT_OPTIONS for o in text.split(",")}
    assert fast_opts == typer_opts


@pytest.mark.parametrize("incomplete", ["", "fa", "k", "sch", "zz"])
def test_fast_completion_matches_typer_completion(incomplete: str) -> None:
    env = {"_HOMEOPS_COMPLETE": "complete_bash", "COMP_WORDS": f"homeops {incomplete}", "COMP_CWORD": "1"}
    fast = run_homeops(env=env)
    slow_code = "from homeops._app import app\napp(prog_name='homeops')"
    slow = subprocess.run(
        [sys.executable, "-c", slow_code], capture_output=True, text=True, env=clean_env(env), timeout=60
    )
    assert fast.returncode == 0
    assert sorted(fast.stdout.split()) == sorted(slow.stdout.split())


def test_no_arguments_prints_the_root_help() -> None:
    proc = run_homeops()
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: homeops")
