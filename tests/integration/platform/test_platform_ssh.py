"""ssh.SshTarget against a real sshd: exit status, stdout/stderr, quoting, stdin, SFTP, host keys, failures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from homeops.errors import ProblemFound, Unreachable
from homeops.ssh import HostKeyError, SshTarget
from tests.services._common import free_port
from tests.services.sshd import Sshd


def target(sshd: Sshd, **overrides: object) -> SshTarget:
    values: dict[str, object] = {
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "key_file": str(sshd.key_file),
        "known_hosts": (str(sshd.known_hosts),),
        "timeout": 5.0,
    }
    values.update(overrides)
    return SshTarget(**values)  # type: ignore[arg-type]


def test_run_returns_status_stdout_stderr(sshd: Sshd) -> None:
    status, out, err = target(sshd).run("echo out; echo err >&2; exit 3")
    assert (status, out, err) == (3, "out\n", "err\n")


def test_argv_is_quoted(sshd: Sshd) -> None:
    result = target(sshd).run(["printf", "%s|", "a b", "$HOME", "it's; rm -rf /"])
    assert result.exit_status == 0
    assert result.stdout == "a b|$HOME|it's; rm -rf /|"


def test_stdin_payload_and_several_commands_on_one_connection(sshd: Sshd) -> None:
    with target(sshd).connect() as session:
        assert session.run("cat", stdin="payload\n").stdout == "payload\n"
        assert session.run(["true"]).exit_status == 0
        big = session.run("head -c 300000 /dev/zero | tr '\\0' x")
        assert len(big.stdout) == 300000


def test_pinned_host_key_without_known_hosts(sshd: Sshd) -> None:
    t = target(sshd, known_hosts=(), host_key=sshd.host_key_line)
    assert t.run("echo pinned").stdout == "pinned\n"


def test_key_from_memory(sshd: Sshd) -> None:
    t = target(sshd, key_file=None, key_data=sshd.key_file.read_text())
    assert t.run("echo mem").stdout == "mem\n"


def test_unknown_host_key_is_refused_and_nothing_runs(sshd: Sshd, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(HostKeyError) as info:
        target(sshd, known_hosts=(str(tmp_path / "empty"),)).run(["touch", str(marker)])
    assert info.value.exit_code == 4
    assert not info.value.changed
    assert f"unknown host key for [127.0.0.1]:{sshd.port}" in info.value.what
    assert "SHA256:" in info.value.what
    assert "ssh-keyscan" in (info.value.fix or "")
    assert not marker.exists()


def test_accept_new_accepts_unknown_but_not_changed(sshd: Sshd, tmp_path: Path) -> None:
    assert target(sshd, known_hosts=(), host_key_policy="accept-new").run("true").exit_status == 0
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    with pytest.raises(HostKeyError) as info:
        target(sshd, known_hosts=(), host_key=wrong, host_key_policy="accept-new").run("true")
    assert info.value.changed
    assert "changed" in info.value.what


def test_wrong_client_key_is_unreachable(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    with pytest.raises(Unreachable, match="authentication"):
        target(sshd, key_file=str(other)).run("true")


def test_closed_port_is_unreachable(sshd: Sshd) -> None:
    with pytest.raises(Unreachable) as info:
        target(sshd, port=free_port(), timeout=2.0).run("true")
    assert "refused" in info.value.what.lower()


def test_command_timeout(sshd: Sshd) -> None:
    with pytest.raises(Unreachable, match=r"still running after 0\.3s"):
        target(sshd).run("sleep 5", timeout=0.3)


def test_sftp_put_get_read(sshd: Sshd, tmp_path: Path) -> None:
    src = tmp_path / "src.txt"
    src.write_text("hello sftp\n")
    remote = str(tmp_path / "remote.txt")
    with target(sshd).connect() as session:
        session.put(src, remote, mode=0o600)
        assert session.read_file(remote) == b"hello sftp\n"
        session.get(remote, tmp_path / "back.txt")
        with pytest.raises(ProblemFound, match="no/such"):
            session.get("/no/such/file", tmp_path / "x")
    assert (tmp_path / "back.txt").read_text() == "hello sftp\n"
    assert Path(remote).stat().st_mode & 0o777 == 0o600
