"""Stand-in: Home Assistant's REST state API (``GET /api/states/<entity_id>``) on 127.0.0.1.

Behaves like HA: a wrong Bearer token gets 401 ``401: Unauthorized``, an unknown entity 404
``{"message":"Entity not found."}``; timestamps use HA's format. Per-entity faults: ``status`` (e.g. 500),
``body`` (garbage with 200), ``delay`` (beyond the client deadline = a hang) and ``trickle`` (headers at once,
then the body one byte every ``trickle`` seconds: defeats a per-phase read timeout). Every request is logged
as ``(monotonic time, entity)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.standins._http import Request, Response, StandinServer

TOKEN = "test-ha-token"


def ha_time(when: datetime) -> str:
    """HA's timestamp format: ``2026-06-05T09:30:00.000000+00:00``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@dataclass
class Fault:
    status: int | None = None
    body: bytes | None = None
    delay: float = 0.0
    trickle: float = 0.0


@dataclass
class HomeAssistant:
    """The stand-in's state: entities, faults and the request log."""

    server: StandinServer
    token: str = TOKEN
    entities: dict[str, dict[str, object]] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    log: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.url

    def set(
        self, entity_id: str, state: str, *, changed_ago: float = 3600.0, updated_ago: float | None = None
    ) -> None:
        """Set an entity's state; ``last_changed`` is ``changed_ago`` seconds before now."""
        now = datetime.now(UTC)
        changed = now - timedelta(seconds=changed_ago)
        updated = now - timedelta(seconds=changed_ago if updated_ago is None else updated_ago)
        with self.lock:
            self.entities[entity_id] = {
                "entity_id": entity_id,
                "state": state,
                "attributes": {},
                "last_changed": ha_time(changed),
                "last_updated": ha_time(updated),
            }

    def fault(
        self,
        entity_id: str,
        *,
        status: int | None = None,
        body: bytes | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
    ) -> None:
        with self.lock:
            self.faults[entity_id] = Fault(status, body, delay, trickle)

    def heal(self, entity_id: str | None = None) -> None:
        with self.lock:
            if entity_id is None:
                self.faults.clear()
            else:
                self.faults.pop(entity_id, None)

    def gets(self, entity_id: str) -> int:
        """How many GETs this entity has had."""
        with self.lock:
            return sum(1 for _, e in self.log if e == entity_id)

    def handle(self, req: Request) -> Response:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return Response.text("401: Unauthorized", 401)
        prefix = "/api/states/"
        if req.method != "GET" or not req.path.startswith(prefix):
            return Response.json({"message": "Not found"}, 404)
        entity = req.path[len(prefix) :]
        with self.lock:
            self.log.append((time.monotonic(), entity))
            fault = self.faults.get(entity)
            doc = self.entities.get(entity)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                return Response.text(f"{fault.status}: error", fault.status)
            if fault.body is not None:
                return Response(200, fault.body, {"Content-Type": "application/json"})
        if doc is None:
            return Response.json({"message": "Entity not found."}, 404)
        resp = Response.json(doc)
        if fault is not None:
            resp.trickle = fault.trickle
        return resp


@pytest.fixture
def home_assistant() -> Iterator[HomeAssistant]:
    """A running Home Assistant stand-in with no entities; token ``TOKEN``."""
    holder: list[HomeAssistant] = []
    server = StandinServer(lambda req: holder[0].handle(req))
    ha = HomeAssistant(server)
    holder.append(ha)
    server.start()
    try:
        yield ha
    finally:
        server.stop()
