"""Adapter: Home Assistant's REST API (``GET /api/states/<entity>``) over httpx, with a deadline per request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeops.fan.ports import HaMiss, HaState


def parse_ha_time(value: Any) -> datetime | None:
    """An HA timestamp (``2026-06-05T09:30:00.000000+00:00``), or None when it does not parse."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class HaClient:
    """The ``Ha`` port: one keep-alive client, Bearer auth, ``timeout`` per request."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        import httpx

        self._httpx = httpx
        self.client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
        )

    def state(self, entity_id: str) -> HaState:
        httpx = self._httpx
        try:
            response = self.client.get(f"/api/states/{entity_id}")
        except httpx.TimeoutException:
            raise HaMiss("timeout") from None
        except httpx.HTTPError as exc:
            raise HaMiss(type(exc).__name__) from None
        if not 200 <= response.status_code < 300:
            raise HaMiss(f"HTTP {response.status_code}")
        try:
            doc = response.json()
            state = doc["state"]
        except (ValueError, KeyError, TypeError):
            raise HaMiss("bad JSON") from None
        if not isinstance(state, str):
            raise HaMiss("bad JSON")
        return HaState(
            entity_id=entity_id,
            state=state,
            last_changed=parse_ha_time(doc.get("last_changed")),
            last_updated=parse_ha_time(doc.get("last_updated")),
        )

    def close(self) -> None:
        self.client.close()
