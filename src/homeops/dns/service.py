"""Service: the composition root of the dns group: settings, credentials, API clients, Kubernetes, addresses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from homeops.dns.settings import Instance, Settings, parse_address
from homeops.errors import HomeopsError

if TYPE_CHECKING:
    import httpx

    from homeops.config import Config
    from homeops.dns.technitium import Credentials, TechnitiumClient
    from homeops.kube import KubeClient
    from homeops.shared_settings import VaultSettings

T = TypeVar("T")
R = TypeVar("R")


def run_all(
    items: Sequence[T],
    fn: Callable[[T], R],
    concurrency: int,
    *,
    stop: threading.Event | None = None,
    grace: float = 0.0,
) -> list[R]:
    """``fn`` over ``items`` with at most ``concurrency`` at once; results in input order.

    On Ctrl-C (KeyboardInterrupt in the calling thread): set ``stop`` (workers check it before new work),
    start nothing new, wait at most ``grace`` seconds for the calls in flight, then re-raise.
    """
    if concurrency <= 1 or len(items) <= 1:
        try:
            return [fn(i) for i in items]
        except KeyboardInterrupt:
            if stop is not None:
                stop.set()
            raise
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(items)))
    futures = [pool.submit(fn, i) for i in items]
    try:
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        if stop is not None:
            stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        wait(futures, timeout=grace)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Runtime:
    """Everything a dns command needs, built lazily: credentials, one HTTP pool, clients, Kubernetes."""

    settings: Settings
    vault: VaultSettings | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    kube_factory: Callable[[], KubeClient] | None = None
    stop: threading.Event = field(default_factory=threading.Event)  # set on Ctrl-C: start no new call
    # Set when a stopped run no longer waits for calls in flight: their late answers are not recorded.
    gave_up: threading.Event = field(default_factory=threading.Event)
    _http: httpx.Client | None = field(default=None, repr=False)
    _kube: KubeClient | None = field(default=None, repr=False)
    _clients: dict[str, TechnitiumClient] = field(default_factory=dict, repr=False)
    _creds: Credentials | None = field(default=None, repr=False)

    def credentials(self) -> Credentials:
        """The API token, or user and password (exit 2 when neither resolves: the gate never skips the API)."""
        from homeops.dns.technitium import Credentials
        from homeops.secrets import resolve, resolve_optional

        if self._creds is None:
            s = self.settings
            token = resolve_optional(s.api_token, what="dns.api_token", vault=self.vault)
            if token:
                self._creds = Credentials(token=token)
            else:
                user = resolve(s.username, what="dns.username", vault=self.vault)
                password = resolve(s.password, what="dns.password", vault=self.vault)
                self._creds = Credentials(username=user, password=password)
        return self._creds

    def client(self, inst: Instance) -> TechnitiumClient:
        """The API client of one instance (sharing one keep-alive pool)."""
        from homeops.dns.technitium import TechnitiumClient, http_client

        if inst.name not in self._clients:
            if self._http is None:
                self._http = http_client(self.settings.concurrency, self.settings.api_timeout)
            self._clients[inst.name] = TechnitiumClient(
                inst.name,
                inst.api_url,
                self._http,
                self.credentials(),
                read_timeout=self.settings.api_timeout,
            )
        return self._clients[inst.name]

    def kube(self) -> KubeClient:
        """The Kubernetes API client (configuration read on first use)."""
        if self._kube is None:
            if self.kube_factory is not None:
                self._kube = self.kube_factory()
            else:
                from homeops.kube import KubeClient, load_config

                self._kube = KubeClient(load_config(self.settings.kubeconfig), timeout=10.0)
        return self._kube

    def close(self) -> None:
        """Log out of every session, close pools."""
        for client in self._clients.values():
            client.logout()
        if self._http is not None:
            self._http.close()
        if self._kube is not None:
            self._kube.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map(self, items: Iterable[T], fn: Callable[[T], R]) -> list[R]:
        """``run_all`` with the configured concurrency, stopping on Ctrl-C (bounded by interrupt_grace)."""
        return run_all(
            list(items),
            fn,
            self.settings.concurrency,
            stop=self.stop,
            grace=self.settings.interrupt_grace,
        )

    def dns_address(self, inst: Instance) -> tuple[str, int] | str:
        """An instance's DNS address: static, or its Ready pod's IP; a str is the reason there is none."""
        if inst.dns:
            return parse_address(inst.dns)
        from homeops.kube import pod_ready

        try:
            pods = self.kube().pods(self.settings.namespace, inst.pod_selector)
        except HomeopsError as exc:
            return exc.line()
        ready = sorted(
            (p for p in pods if pod_ready(p) and (p.get("status") or {}).get("podIP")),
            key=lambda p: str((p.get("metadata") or {}).get("name", "")),
        )
        if not ready:
            return f"no Running and Ready pod matches {inst.pod_selector}"
        return str(ready[0]["status"]["podIP"]), self.settings.pod_dns_port


def build(config: Config, **overrides: Any) -> Runtime:
    """The runtime from the loaded configuration."""
    from homeops.shared_settings import VaultSettings

    return Runtime(config.table("dns", Settings), config.table("vault", VaultSettings), **overrides)
