"""Logic: the original's dedup rule for Slack posts — a fixed window from the first post, bounded (§3.4)."""

from __future__ import annotations

from collections import OrderedDict


def dedup_key(ip: str, product: str) -> str:
    """``"<ip>|<product>"``."""
    return f"{ip}|{product}"


class Dedup:
    """``should_post(key, now)`` with ``now`` in monotonic (or log) seconds; ordered by first-post time."""

    def __init__(self, window: float, capacity: int = 4096) -> None:
        self.window = window
        self.capacity = max(1, capacity)
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def should_post(self, key: str, now: float) -> bool:
        """True when ``key`` was not posted within the window; a skip does not refresh the window."""
        while self._seen:
            oldest_key, oldest_t = next(iter(self._seen.items()))
            if now - oldest_t > self.window:
                del self._seen[oldest_key]
            else:
                break
        first = self._seen.get(key)
        if first is not None:
            if now - first < self.window:
                return False
            del self._seen[key]
        if len(self._seen) >= self.capacity:
            self._seen.popitem(last=False)
        self._seen[key] = now
        return True
