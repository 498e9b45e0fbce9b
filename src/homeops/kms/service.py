"""Service: ``kms parse`` (a whole log through the state machine, optionally with the dedup verdicts ``watch``
would reach) and the settings → classifier / options composition shared by the commands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeops.kms.classify import Classifier
from homeops.kms.dedup import Dedup, dedup_key
from homeops.kms.logparse import WARNING_TEXT, Event, ParserState, feed, finish
from homeops.kms.settings import Settings

WARNING_FIX: dict[str, str] = {
    "nonverbose": "add -v to vlmcsd's arguments",
    "unknown_product_names": "deploy vlmcsd's KMS data file (-j vlmcsd.kmd)",
    "duplicate_open": "none needed; a close line was lost (vlmcsd restarted or the log was cut)",
    "stale_connection": "none needed; raise kms.max_open_connections if it happens often",
    "line_too_long": "none needed; the line was cut at 64 KiB",
    "unattributed": "none needed; request lines arrived with no open connection (the log started mid-request)",
    "orphan_closes": "none needed; the log started in the middle of a connection",
}


def classifier_for(settings: Settings) -> Classifier:
    """The source classifier of ``[kms]``."""
    return Classifier.from_cidrs(settings.pod_cidrs, settings.node_cidrs)


@dataclass
class ParseReport:
    """The result of ``kms parse``."""

    events: list[Event] = field(default_factory=list)
    would_post: list[bool | None] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        events = []
        for i, event in enumerate(self.events):
            doc: dict[str, Any] = event.to_json()
            if self.would_post is not None and event.kind == "activation":
                doc["would_post"] = self.would_post[i]
            events.append(doc)
        return {"events": events, "warnings": self.warnings, "stats": self.stats}

    def render_human(self) -> Any:
        """A plain aligned table (never truncated, so it pipes and greps well)."""
        from rich.text import Text

        header = ["closed", "kind", "ip", "source", "workstation", "product", "status"]
        if self.would_post is not None:
            header.append("would post")
        rows = [header]
        for i, e in enumerate(self.events):
            row = [
                e.closed or "-",
                e.kind,
                e.ip,
                e.source,
                e.workstation or "-",
                e.product or "-",
                e.status or "-",
            ]
            if self.would_post is not None:
                wp = self.would_post[i] if e.kind == "activation" else None
                row.append("-" if wp is None else ("yes" if wp else "no (dedup)"))
            rows.append([" ".join(cell.split()) for cell in row])
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        s = self.stats
        lines.append(
            f"{len(self.events)} events from {s['lines']} lines; unparsed {s['unparsed']}, "
            f"unattributed {s['unattributed']}, orphan closes {s['orphan_closes']}, open at EOF {s['open_at_eof']}"
        )
        return Text("\n".join(lines), no_wrap=True, overflow="ignore")


def _epoch(stamp: str | None) -> float | None:
    if stamp is None:
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def parse_lines(
    lines: Iterable[str],
    classifier: Classifier,
    *,
    max_open: int = 4096,
    dedup_window: int | None = None,
    dedup_max: int = 4096,
) -> ParseReport:
    """Run every line through the state machine; connections open at the end are emitted unclosed."""
    state = ParserState(classify=classifier.classify, max_open=max_open)
    events: list[Event] = []
    for n, line in enumerate(lines):
        _state, new, _warnings = feed(state, line, float(n))
        if new:
            events.extend(new)
    open_at_eof = len(state.conns)
    _state, tail = finish(state)
    events.extend(tail)
    report = ParseReport(events=events)
    report.stats = {
        "lines": state.stats.lines,
        "unparsed": state.stats.unparsed,
        "unattributed": state.stats.unattributed,
        "orphan_closes": state.stats.orphan_closes,
        "open_at_eof": open_at_eof,
    }
    warnings = [
        {"kind": kind, "message": WARNING_TEXT.get(kind, kind), "count": count}
        for kind, count in state.warning_counts.items()
    ]
    for kind in ("unattributed", "orphan_closes"):
        count = report.stats[kind]
        if count:
            text = {"unattributed": "request or label lines with no open connection or block",
                    "orphan_closes": "close lines without an open line"}[kind]  # fmt: skip
            warnings.append({"kind": kind, "message": text, "count": count})
    report.warnings = warnings
    if dedup_window is not None:
        dedup = Dedup(dedup_window, dedup_max)
        verdicts: list[bool | None] = []
        for event in events:
            when = _epoch(event.closed) or _epoch(event.opened)
            if event.kind != "activation" or when is None:
                verdicts.append(None)
                continue
            verdicts.append(dedup.should_post(dedup_key(event.ip, event.product or "unknown"), when))
        report.would_post = verdicts
    return report
