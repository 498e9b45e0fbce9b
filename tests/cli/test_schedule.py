"""`homeops schedule`: every job renders, systemd units verify, CronJobs are valid batch/v1."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from homeops.schedule import all_jobs
from homeops.schedule_render import render_cronjob, render_systemd
from tests.cli._run import HOMEOPS, run_homeops

JOBS = all_jobs()


def test_list_json_matches_the_jobs() -> None:
    proc = run_homeops("schedule", "list", "--json")
    assert proc.returncode == 0
    assert [row["name"] for row in json.loads(proc.stdout)] == [j.name for j in JOBS]


def test_job_names_are_unique_and_commands_exist() -> None:
    from homeops.runbook import check_command

    assert len({j.name for j in JOBS}) == len(JOBS)
    for job in JOBS:
        assert check_command(list(job.command)) is None, job.name


@pytest.mark.parametrize("job", JOBS, ids=[j.name for j in JOBS])
def test_systemd_units_verify(job: object, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not available")
    files = render_systemd(job, exec_path=str(HOMEOPS))  # type: ignore[arg-type]
    for f in files:
        (tmp_path / f.name).write_text(f.text)
    proc = subprocess.run(
        [analyze, "verify", *(str(tmp_path / f.name) for f in files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "" and proc.stdout.strip() == ""


@pytest.mark.parametrize(
    "job",
    [j for j in JOBS if j.kind == "timer" and j.runs_on != "host"],
    ids=[j.name for j in JOBS if j.kind == "timer" and j.runs_on != "host"],
)
def test_cronjob_is_valid_batch_v1(job: object) -> None:
    (rendered,) = render_cronjob(job)  # type: ignore[arg-type]
    doc = yaml.safe_load(rendered.text)
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
    assert doc["metadata"]["name"]
    spec = doc["spec"]
    assert len(spec["schedule"].split()) == 5
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    assert container["image"] and container["args"] == list(job.command)  # type: ignore[attr-defined]


def test_render_unknown_job_exits_2() -> None:
    proc = run_homeops("schedule", "render", "nope", "--as", "cronjob")
    assert proc.returncode == 2


def test_render_json_has_files() -> None:
    if not JOBS:
        pytest.skip("no scheduled jobs yet")
    proc = run_homeops("schedule", "render", JOBS[0].name, "--as", "systemd", "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert any(name.endswith(".service") for name in doc["files"])
