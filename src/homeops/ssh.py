"""Adapter: run commands and copy files over SSH (paramiko), host keys checked, for every group that needs it.

Host keys are checked against a pinned key and/or known_hosts files; an unknown key is refused (exit 4)
unless the caller opted into ``accept-new`` (accepted for this process only, never written); a changed key
is always refused. Arguments given as a list are ``shlex``-quoted. paramiko is imported inside functions.
"""

from __future__ import annotations

import base64
import io
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from homeops.errors import ProblemFound, Unreachable

if TYPE_CHECKING:
    import paramiko

HostKeyPolicy = Literal["strict", "accept-new"]
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts")


class RunResult(NamedTuple):
    """What a remote command gave back: exit status, stdout and stderr (decoded as UTF-8)."""

    exit_status: int
    stdout: str
    stderr: str


class HostKeyError(Unreachable):
    """The host's key is unknown or changed; nothing was run (exit 4; a group may re-raise as Refused)."""

    def __init__(self, what: str, fix: str, *, changed: bool, fingerprint: str) -> None:
        super().__init__(what, fix)
        self.changed = changed
        self.fingerprint = fingerprint


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in; ``key_data`` is a private key's text (from a secret), never written."""

    host: str
    user: str
    port: int = 22
    key_file: str | None = None
    key_data: str | None = field(default=None, repr=False)
    known_hosts: tuple[str, ...] = DEFAULT_KNOWN_HOSTS
    host_key: str | None = None
    host_key_policy: HostKeyPolicy = "strict"
    timeout: float = 10.0

    @property
    def name(self) -> str:
        """``user@host:port`` for messages."""
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        """How known_hosts names this host (``host`` on 22, else ``[host]:port``)."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def connect(self) -> SshSession:
        """Open one authenticated connection (use as a context manager)."""
        return SshSession(self)

    def run(
        self, command: str | Sequence[str], *, timeout: float = 60.0, stdin: str | bytes | None = None
    ) -> RunResult:
        """Connect, run one command, disconnect."""
        with self.connect() as session:
            return session.run(command, timeout=timeout, stdin=stdin)


def command_line(command: str | Sequence[str]) -> str:
    """A shell command line: a string as given, a list joined with ``shlex`` quoting."""
    return command if isinstance(command, str) else shlex.join(command)


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name().removeprefix('ssh-').upper()} {key.fingerprint}"


def _load_key(text: str) -> paramiko.PKey:
    import paramiko

    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise ProblemFound("the SSH private key given is not a readable unencrypted key", "check the key secret")


class SshSession:
    """One open SSH connection: ``run`` any number of commands, ``put``/``get`` files over SFTP."""

    def __init__(self, target: SshTarget) -> None:
        import paramiko

        self.target = target
        client = paramiko.SSHClient()
        for entry in target.known_hosts:
            path = Path(entry).expanduser()
            if path.is_file():
                try:
                    client.load_host_keys(str(path))
                except (OSError, paramiko.SSHException):
                    continue
        if target.host_key:
            keytype, _, b64 = target.host_key.strip().partition(" ")
            pinned = paramiko.PKey.from_type_string(keytype, base64.b64decode(b64.split()[0]))
            client.get_host_keys().add(target.known_hosts_name, keytype, pinned)
        unknown: list[paramiko.PKey] = []

        class Policy(paramiko.MissingHostKeyPolicy):
            def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
                if target.host_key_policy == "accept-new":
                    client.get_host_keys().add(hostname, key.get_name(), key)  # this process only
                    return
                unknown.append(key)
                raise paramiko.SSHException("unknown host key")

        client.set_missing_host_key_policy(Policy())
        pkey = _load_key(target.key_data) if target.key_data else None
        try:
            client.connect(
                target.host,
                port=target.port,
                username=target.user,
                pkey=pkey,
                key_filename=target.key_file if pkey is None else None,
                timeout=target.timeout,
                banner_timeout=target.timeout,
                auth_timeout=target.timeout,
                look_for_keys=False,
                allow_agent=pkey is None and target.key_file is None,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(
                f"host key for {target.known_hosts_name} changed (now {_fingerprint(exc.key)}); "
                "nothing was run",
                f"if the host was reinstalled, verify it, then ssh-keygen -R '{target.known_hosts_name}'",
                changed=True,
                fingerprint=_fingerprint(exc.key),
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise Unreachable(
                f"ssh authentication as {target.name} failed", "check the user and the key it is given"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if unknown:
                fp = _fingerprint(unknown[0])
                keytype = unknown[0].get_name().removeprefix("ssh-")
                raise HostKeyError(
                    f"unknown host key for {target.known_hosts_name} ({fp}); nothing was run",
                    f"verify it, then ssh-keyscan -p {target.port} -t {keytype} {target.host}"
                    " >> ~/.ssh/known_hosts",
                    changed=False,
                    fingerprint=fp,
                ) from None
            raise Unreachable(f"ssh {target.name}: {exc}", "check that sshd is up and reachable") from None
        except TimeoutError:
            client.close()
            raise Unreachable(
                f"ssh {target.name}: timed out after {target.timeout:g}s", "check the host and the network"
            ) from None
        except OSError as exc:
            client.close()
            inner = list(getattr(exc, "errors", {}).values())  # paramiko's NoValidConnectionsError
            first = inner[0] if inner and isinstance(inner[0], OSError) else exc
            reason = (first.strerror or type(first).__name__).lower()
            raise Unreachable(f"ssh {target.name}: {reason}", "check that sshd is up and reachable") from None
        self._client = client

    def __enter__(self) -> SshSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def run(
        self, command: str | Sequence[str], *, timeout: float = 60.0, stdin: str | bytes | None = None
    ) -> RunResult:
        """Run one command (no pty), optionally feeding ``stdin``; Unreachable when it outlives ``timeout``.

        Wrap long commands in ``timeout -k`` on the remote side too, so nothing runs on after we give up.
        """
        import paramiko

        line = command_line(command)
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise Unreachable(f"ssh {self.target.name}: connection lost", "try again")
        try:
            chan = transport.open_session(timeout=self.target.timeout)
            chan.exec_command(line)
            if stdin is not None:
                chan.sendall(stdin.encode() if isinstance(stdin, str) else stdin)
            chan.shutdown_write()
        except (paramiko.SSHException, OSError) as exc:
            raise Unreachable(
                f"ssh {self.target.name}: could not start a command ({exc})", "try again"
            ) from None
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        try:
            while True:
                busy = False
                while chan.recv_ready():
                    out += chan.recv(65536)
                    busy = True
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                    busy = True
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if chan.closed and not busy:
                    break
                if time.monotonic() > deadline:
                    raise Unreachable(
                        f"ssh {self.target.name}: `{_short(line)}` still running after {timeout:g}s",
                        "give it a longer timeout or check the host",
                    )
                if not busy:
                    time.sleep(0.005)
            status = chan.recv_exit_status()
        finally:
            chan.close()
        return RunResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def put(self, local: str | Path, remote: str, *, mode: int | None = None) -> None:
        """Copy a local file to ``remote`` (optionally chmod it)."""
        with self._client.open_sftp() as sftp:
            try:
                sftp.put(str(local), remote)
                if mode is not None:
                    sftp.chmod(remote, mode)
            except OSError as exc:
                raise ProblemFound(
                    f"sftp put {local} → {self.target.host}:{remote} failed ({_why(exc)})"
                ) from None

    def get(self, remote: str, local: str | Path) -> None:
        """Copy ``remote`` to a local file."""
        with self._client.open_sftp() as sftp:
            try:
                sftp.get(remote, str(local))
            except OSError as exc:
                raise ProblemFound(f"sftp get {self.target.host}:{remote} failed ({_why(exc)})") from None

    def read_file(self, remote: str) -> bytes:
        """The bytes of a remote file."""
        with self._client.open_sftp() as sftp:
            try:
                with sftp.open(remote, "rb") as handle:
                    return bytes(handle.read())
            except OSError as exc:
                raise ProblemFound(f"sftp read {self.target.host}:{remote} failed ({_why(exc)})") from None


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _short(line: str, width: int = 60) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"
