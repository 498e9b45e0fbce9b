"""Logic: the vlmcsd log grammar and the per-connection state machine (specs/kms.md §3.1–3.3).

``feed(state, line, now)`` is pure apart from updating ``state``: no I/O, no clock. Both label formats (older
``Activation ID (Product)`` and current ``SKU ID (aka Activation ID)``), verbose and non-verbose requests,
IPv4/IPv6, interleaved connections and lost lines are handled; garbage never creates an event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from homeops.kms.classify import Classifier, client_ip

EventKind = Literal["activation", "probe", "rejected"]
Format = Literal["legacy", "current", "nonverbose"]

MAX_LINE = 64 * 1024

_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2}) ([0-9:]+)( [AP]M)?: ")
_CONN = re.compile(
    r"^IPv([46]) connection (accepted|closed): "
    r"(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Za-z:.%_-]{2,80}\]):(\d{1,5})\.?\s*$"
)
_NONVERBOSE = re.compile(r"^KMS v(\d+)\.(\d+) request from (.*?) for (.*)$")
_GUID = re.compile(r"^\s*([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})")
_STATUS = re.compile(r"^\s*(\d+)\s*(?:\((.*)\))?")

PRODUCT_LABELS = {"Activation ID (Product)": "legacy", "SKU ID (aka Activation ID)": "current"}
KMS_ID_LABELS = ("Key Management Service ID", "KMS ID (aka KMS counted ID)")
REQUEST_LABELS = frozenset(
    {
        "Protocol version",
        "Client is a virtual machine",
        "Licensing status",
        "Remaining time (0 = forever)",
        "Application ID",
        *PRODUCT_LABELS,
        *KMS_ID_LABELS,
        "Client machine ID",
        "Previous client machine ID",
        "Client request timestamp (UTC)",
        "Workstation name",
        "N count policy (minimum clients)",
    }
)
RESPONSE_LABELS = frozenset(
    {
        "KMS host extended PID",
        "KMS host Hardware ID",
        "KMS host current active clients",
        "Renewal interval policy",
        "Activation interval policy",
    }
)
KNOWN_LABELS = REQUEST_LABELS | RESPONSE_LABELS

WARNING_TEXT: dict[str, str] = {
    "nonverbose": "vlmcsd runs without -v: no request blocks, so licensing status and application are missing; "
    "add -v to vlmcsd's arguments",
    "unknown_product_names": "vlmcsd prints product names as Unknown: deploy its KMS data file (-j vlmcsd.kmd)",
    "duplicate_open": "a connection was opened twice without a close (a lost close line or port reuse); "
    "the first was emitted unclosed",
    "stale_connection": "a connection stayed open too long (or too many were open); it was emitted unclosed",
    "line_too_long": "a log line was longer than 64 KiB and was cut",
}


@dataclass
class Request:
    """One KMS request seen on a connection (verbose block or non-verbose line)."""

    format: Format | None = None
    workstation: str | None = None
    sku_name: str | None = None
    sku_id: str | None = None
    application: str | None = None
    application_id: str | None = None
    kms_id: str | None = None
    status: str | None = None
    status_code: int | None = None
    protocol: str | None = None
    virtual_machine: str | None = None
    product_text: str | None = None  # non-verbose: the product as logged


@dataclass
class Connection:
    key: str
    ip: str
    port: int
    family: int
    opened: str | None
    opened_at: float
    requests: list[Request] = field(default_factory=list)
    rejected: bool = False
    offset: int = -1  # where its open line starts in the file (``watch`` with a position file), else -1


@dataclass(frozen=True)
class Event:
    """What a closed (or stale, or left-open) connection yields (§3.3)."""

    kind: EventKind
    ip: str
    port: int
    source: str
    opened: str | None
    closed: str | None
    product: str | None = None
    application: str | None = None
    workstation: str | None = None
    status: str | None = None
    format: Format | None = None
    sku_id: str | None = None
    kms_id: str | None = None
    protocol: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "ip": self.ip,
            "port": self.port,
            "source": self.source,
            "product": self.product,
            "application": self.application,
            "workstation": self.workstation,
            "status": self.status,
            "opened": self.opened,
            "closed": self.closed,
            "format": self.format,
            "sku_id": self.sku_id,
            "kms_id": self.kms_id,
            "protocol": self.protocol,
        }


@dataclass(frozen=True)
class Warning:
    """One occurrence of a configuration or log warning; ``first`` is True the first time its kind occurs."""

    kind: str
    message: str
    first: bool


@dataclass
class Block:
    owner: str
    request: Request
    phase: Literal["request", "response"] = "request"


@dataclass
class Stats:
    lines: int = 0
    unparsed: int = 0
    unattributed: int = 0
    orphan_closes: int = 0


@dataclass
class ParserState:
    """Everything the state machine remembers between lines."""

    classify: Callable[[str], str] = field(default_factory=lambda: Classifier.default().classify)
    max_open: int = 4096
    conns: dict[str, Connection] = field(default_factory=dict)
    block: Block | None = None
    stats: Stats = field(default_factory=Stats)
    warned: set[str] = field(default_factory=set)
    warning_counts: dict[str, int] = field(default_factory=dict)
    offset: int = -1  # set by the caller: the file offset where the next line starts (-1 = unknown)


Result = tuple[ParserState, list[Event], list[Warning]]


_STAMPS: dict[str, str | None] = {}  # prefix text → ISO timestamp; log lines share their second
_DAYS: dict[str, bool] = {}  # YYYY-MM-DD → a real date
_MISS = "\0"


def split_prefix(line: str) -> tuple[str | None, str]:
    """(naive ISO timestamp or None, message) for one line without its line ending."""
    # fast path: the C-locale prefix is 21 characters; a cached key is a prefix the regex matched before, and
    # the regex cannot match differently on a line that starts with it (the time run stops at the space)
    stamp = _STAMPS.get(line[:21], _MISS)
    if stamp is not _MISS:
        return stamp, line[21:]
    match = _PREFIX.match(line)
    if match is None:
        return None, line
    key = match.group(0)
    try:
        stamp = _STAMPS[key]
    except KeyError:
        if len(_STAMPS) >= 4096:
            _STAMPS.clear()
        stamp = _STAMPS[key] = _timestamp(match.group(1), match.group(2), match.group(3))
    return stamp, line[match.end() :]


def _timestamp(day: str, clock: str, ampm: str | None) -> str | None:
    if ampm is None and len(clock) == 8 and clock[2] == ":" and clock[5] == ":":
        # the common 24-hour HH:MM:SS: check the numbers and (once per day) the date, no datetime round trip
        hh, mm, ss = clock[:2], clock[3:5], clock[6:]
        if (
            not (hh.isdigit() and mm.isdigit() and ss.isdigit())
            or int(hh) > 23
            or int(mm) > 59
            or int(ss) > 59
        ):
            return None
        valid = _DAYS.get(day)
        if valid is None:
            if len(_DAYS) >= 4096:
                _DAYS.clear()
            try:
                datetime.fromisoformat(day)
                valid = _DAYS[day] = True
            except ValueError:
                valid = _DAYS[day] = False
        return f"{day}T{clock}" if valid else None
    parts = clock.split(":")
    try:
        numbers = [int(p) for p in parts]
        if len(numbers) == 2:
            numbers.append(0)
        if len(numbers) != 3:
            return None
        hour, minute, second = numbers
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm.strip() == "PM" else 0)
        return datetime.fromisoformat(day).replace(hour=hour, minute=minute, second=second).isoformat()
    except ValueError:
        return None


def _warn(state: ParserState, kind: str) -> Warning:
    first = kind not in state.warned
    state.warned.add(kind)
    state.warning_counts[kind] = state.warning_counts.get(kind, 0) + 1
    return Warning(kind, WARNING_TEXT.get(kind, kind), first)


def _id_value(value: str) -> tuple[str | None, str]:
    """``<GUID> (<name>)`` → (guid lower-cased or None, name between the first ``(`` and the last ``)``)."""
    match = _GUID.match(value)
    guid = match.group(1).lower() if match else None
    rest = value[match.end() :] if match else value
    start, end = rest.find("("), rest.rfind(")")
    name = rest[start + 1 : end].strip() if start != -1 and end > start else ""
    return guid, name


def _claimant(state: ParserState) -> Connection | None:
    """The most recently opened connection without a request; else the most recently opened one."""
    for conn in reversed(state.conns.values()):
        if not conn.requests:
            return conn
    if state.conns:
        return next(reversed(state.conns.values()))
    return None


def emit(state: ParserState, conn: Connection, closed: str | None) -> list[Event]:
    """The events of one finished connection (§3.3)."""
    ip = conn.ip if conn.family == 4 else client_ip(conn.ip)  # an IPv4 match is digits and dots only
    source = state.classify(ip)
    base = {"ip": ip, "port": conn.port, "source": source, "opened": conn.opened, "closed": closed}
    if conn.rejected:
        return [Event(kind="rejected", **base)]  # type: ignore[arg-type]
    if not conn.requests:
        return [Event(kind="probe", **base)]  # type: ignore[arg-type]
    return [_activation(req, base) for req in conn.requests]


def _activation(req: Request, base: dict[str, object]) -> Event:
    if req.format == "nonverbose":
        product = req.product_text or "unknown"
    elif req.sku_name == "Unknown":
        product = f"Unknown ({req.sku_id})" if req.sku_id else "Unknown"
    else:
        product = req.sku_name or req.application or "unknown"
    return Event(
        kind="activation",
        product=product,
        application=req.application,
        workstation=req.workstation,
        status=req.status,
        format=req.format,
        sku_id=req.sku_id,
        kms_id=req.kms_id,
        protocol=req.protocol,
        **base,  # type: ignore[arg-type]
    )


def _close(state: ParserState, key: str, closed: str | None) -> list[Event]:
    conn = state.conns.pop(key)
    if state.block is not None and state.block.owner == key:
        state.block = None
    return emit(state, conn, closed)


def feed(state: ParserState, line: str, now: float, read_time: str | None = None) -> Result:
    """Advance the state machine by one line; ``now`` is monotonic seconds, ``read_time`` the fallback
    timestamp for lines without a prefix (``watch`` passes the read time, ``parse`` None)."""
    events: list[Event] = []
    warnings: list[Warning] = []
    state.stats.lines += 1
    line = line.rstrip("\r\n")
    if len(line) > MAX_LINE:
        line = line[:MAX_LINE]
        warnings.append(_warn(state, "line_too_long"))
    stamp, msg = split_prefix(line)
    when = stamp if stamp is not None else read_time

    match = _CONN.match(msg)
    if match is not None:
        family, verb, address, port_text = match.groups()
        port = int(port_text)
        if port > 65535 or (family == "4") != (not address.startswith("[")):
            state.stats.unparsed += 1
            return state, events, warnings
        key = f"{address}:{port}"
        if verb == "accepted":
            if key in state.conns:
                events += _close(state, key, None)
                warnings.append(_warn(state, "duplicate_open"))
            elif len(state.conns) >= state.max_open:
                oldest = next(iter(state.conns))
                events += _close(state, oldest, None)
                warnings.append(_warn(state, "stale_connection"))
            ip = address[1:-1] if address.startswith("[") else address
            state.conns[key] = Connection(key, ip, port, int(family), when, now, offset=state.offset)
        elif key in state.conns:
            events += _close(state, key, when)
        else:
            state.stats.orphan_closes += 1
        return state, events, warnings

    if msg.startswith("<<< Incoming KMS request"):
        claimant = _claimant(state)
        if claimant is None:
            state.stats.unattributed += 1
            state.block = None
        else:
            req = Request()
            claimant.requests.append(req)
            state.block = Block(claimant.key, req)
        return state, events, warnings

    if msg.startswith(">>> Sending response"):
        if state.block is not None:
            state.block.phase = "response"
        return state, events, warnings

    nonverbose = _NONVERBOSE.match(msg)
    if nonverbose is not None:
        claimant = _claimant(state)
        state.block = None
        if claimant is None:
            state.stats.unattributed += 1
            return state, events, warnings
        major, minor, workstation, product = nonverbose.groups()
        claimant.requests.append(
            Request(
                format="nonverbose",
                workstation=workstation.strip(),
                product_text=product.strip() or None,
                protocol=f"{major}.{minor}",
            )
        )
        warnings.append(_warn(state, "nonverbose"))
        return state, events, warnings

    if msg.startswith("Sending ePID ("):
        return state, events, warnings

    if msg.startswith("Client with public IP address rejected"):
        claimant = _claimant(state)
        if claimant is None:
            state.stats.unattributed += 1
        else:
            claimant.rejected = True
        return state, events, warnings

    label, colon, value = msg.partition(":")
    label = label.strip()
    if colon and (label in KNOWN_LABELS or (state.block is not None and state.block.phase == "request")):
        block = state.block
        if block is None or block.phase != "request":
            state.stats.unattributed += 1
            return state, events, warnings
        warnings += _label(state, block.request, label, value.strip())
        return state, events, warnings

    state.stats.unparsed += 1
    return state, events, warnings


def _label(state: ParserState, req: Request, label: str, value: str) -> list[Warning]:
    warnings: list[Warning] = []
    if label == "Licensing status":
        match = _STATUS.match(value)
        if match:
            req.status_code = int(match.group(1)) if len(match.group(1)) < 6 else None
            req.status = (match.group(2) or "").strip() or None
        else:
            req.status = value or None
    elif label == "Application ID":
        req.application_id, name = _id_value(value)
        req.application = name or None
        if name == "Unknown":
            warnings.append(_warn(state, "unknown_product_names"))
    elif label in PRODUCT_LABELS:
        req.sku_id, name = _id_value(value)
        req.sku_name = name or None
        req.format = "legacy" if PRODUCT_LABELS[label] == "legacy" else "current"
        if name == "Unknown":
            warnings.append(_warn(state, "unknown_product_names"))
    elif label in KMS_ID_LABELS:
        _guid, name = _id_value(value)
        req.kms_id = name or None
    elif label == "Workstation name":
        req.workstation = value
    elif label == "Protocol version":
        req.protocol = value or None
    elif label == "Client is a virtual machine":
        req.virtual_machine = value or None
    return warnings


def expire(state: ParserState, now: float, older_than: float) -> Result:
    """Emit connections open for longer than ``older_than`` seconds (``watch``), unclosed."""
    events: list[Event] = []
    warnings: list[Warning] = []
    for key in [k for k, c in state.conns.items() if now - c.opened_at > older_than]:
        events += _close(state, key, None)
        warnings.append(_warn(state, "stale_connection"))
    return state, events, warnings


def finish(state: ParserState) -> tuple[ParserState, list[Event]]:
    """At the end of a parsed file: every connection still open, in open order, unclosed."""
    events: list[Event] = []
    for key in list(state.conns):
        events += _close(state, key, None)
    return state, events
