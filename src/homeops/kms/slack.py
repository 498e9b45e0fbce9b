"""Adapter: deliver Slack messages through a bounded retry queue on a worker thread (§3.5).

The reader only enqueues; the worker posts the head with httpx, keeps it on a timeout, connection error, 5xx,
403/404/410 or 429 and retries with backoff (1, 2, 4 … s, capped), drops it on 400. The webhook URL is a
secret: it is never logged, and errors name only the exception class or status.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

RETRY_STATUSES = {403, 404, 410}


@dataclass(frozen=True)
class Message:
    """One queued post: the webhook body and a short description for log lines."""

    body: dict[str, Any]
    ip: str = ""
    source: str = ""
    product: str = ""
    host: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "ip": self.ip,
            "source": self.source,
            "product": self.product,
            "host": self.host,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(dict(data["body"]), str(data.get("ip", "")), str(data.get("source", "")),
                   str(data.get("product", "")), str(data.get("host", "")))  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """The result of one post: ``ok``; else a failure ``reason`` and whether to retry, and a wait hint."""

    ok: bool
    reason: str = ""
    retry: bool = True
    retry_after: float | None = None


class Poster(Protocol):
    def post(self, body: dict[str, Any]) -> Outcome: ...

    def close(self) -> None: ...


class HttpxPoster:
    """POST JSON to the webhook with httpx; maps every failure to an ``Outcome`` (never raises)."""

    def __init__(self, url: str, timeout: float) -> None:
        import httpx

        self._httpx = httpx
        self._url = url
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)

    def post(self, body: dict[str, Any]) -> Outcome:
        httpx = self._httpx
        try:
            resp = self._client.post(
                self._url,
                content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TimeoutException:
            return Outcome(False, "timeout")
        except (httpx.HTTPError, OSError):
            return Outcome(False, "connection")
        status = resp.status_code
        if 200 <= status < 300:
            return Outcome(True)
        if status == 429:
            return Outcome(False, "http_429", True, _retry_after(resp.headers.get("Retry-After")))
        if status == 400:
            return Outcome(False, "http_4xx", retry=False)
        if status >= 500:
            return Outcome(False, "http_5xx")
        if status in RETRY_STATUSES:
            return Outcome(False, "http_4xx")
        return Outcome(False, "http_4xx", retry=False)

    def close(self) -> None:
        self._client.close()


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value is not None else 30.0
    except ValueError:
        return 30.0


class Spool:
    """Undelivered messages as JSON Lines: appended on enqueue, rewritten atomically on removal."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def load(self) -> list[Message]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        messages = []
        for line in text.splitlines():
            try:
                messages.append(Message.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue
        return messages

    def append(self, message: Message) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(message.to_json(), ensure_ascii=False) + "\n")

    def rewrite(self, messages: list[Message]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".kms-spool-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for message in messages:
                    fh.write(json.dumps(message.to_json(), ensure_ascii=False) + "\n")
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise


class Hooks(Protocol):
    """What the queue reports to the daemon (log lines and metrics)."""

    def sent(self, message: Message) -> None: ...

    def failed(self, message: Message, reason: str, attempt: int, next_in: float, depth: int) -> None: ...

    def dropped(self, message: Message, reason: str) -> None: ...

    def depth(self, depth: int) -> None: ...


class SlackQueue:
    """A bounded FIFO with one worker thread; ``put`` never blocks on Slack."""

    def __init__(
        self,
        poster: Poster,
        hooks: Hooks,
        *,
        maxlen: int,
        max_delay: float,
        spool: Spool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._poster = poster
        self._hooks = hooks
        self._maxlen = max(1, maxlen)
        self._max_delay = max_delay
        self._spool = spool
        self._clock = clock
        self._items: deque[Message] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="slack-worker", daemon=True)
        if spool is not None:
            for message in spool.load():
                self._items.append(message)
            while len(self._items) > self._maxlen:
                self._hooks.dropped(self._items.popleft(), "queue_full")

    def start(self) -> SlackQueue:
        self._hooks.depth(len(self._items))
        self._thread.start()
        return self

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, message: Message) -> None:
        """Append; when full, drop the oldest (reported with its full text)."""
        dropped: Message | None = None
        with self._cond:
            if len(self._items) >= self._maxlen:
                dropped = self._items.popleft()
            self._items.append(message)
            depth = len(self._items)
            self._persist(append=message if dropped is None else None)
            self._cond.notify_all()
        if dropped is not None:
            self._hooks.dropped(dropped, "queue_full")
        self._hooks.depth(depth)

    def _persist(self, append: Message | None = None) -> None:
        """Mirror the queue to the spool (caller holds the lock)."""
        if self._spool is None:
            return
        try:
            if append is not None:
                self._spool.append(append)
            else:
                self._spool.rewrite(list(self._items))
        except OSError:
            pass  # the queue in memory is still authoritative; the shutdown path reports leftovers

    def _wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, or less when stopping (never past the drain deadline)."""
        end = self._clock() + seconds
        with self._cond:
            while True:
                now = self._clock()
                limit = end if self._deadline is None else min(end, self._deadline)
                if now >= limit:
                    return
                self._cond.wait(limit - now)

    def _run(self) -> None:
        attempt = 0
        while True:
            with self._cond:
                while not self._items and not self._stopping:
                    self._cond.wait()
                if not self._items or (self._deadline is not None and self._clock() >= self._deadline):
                    return
                head = self._items[0]
            outcome = self._poster.post(head.body)
            if outcome.ok or not outcome.retry:
                with self._cond:
                    if self._items and self._items[0] is head:
                        self._items.popleft()
                    self._persist()
                    depth = len(self._items)
                attempt = 0
                if outcome.ok:
                    self._hooks.sent(head)
                else:
                    self._hooks.failed(head, outcome.reason, 1, 0.0, depth)
                    self._hooks.dropped(head, "rejected")
                self._hooks.depth(depth)
                continue
            attempt += 1
            if outcome.retry_after is not None:
                delay = min(outcome.retry_after, self._max_delay)
            else:
                delay = min(2.0 ** (attempt - 1), self._max_delay)
            self._hooks.failed(head, outcome.reason, attempt, delay, len(self))
            self._wait(delay)

    def stop(self, grace: float) -> list[Message]:
        """Stop: keep delivering for up to ``grace`` seconds, then return what is left (still spooled)."""
        with self._cond:
            self._stopping = True
            self._deadline = self._clock() + grace
            self._cond.notify_all()
        self._thread.join(grace + 1.0)
        with self._cond:
            left = list(self._items)
        self._poster.close()
        return left
