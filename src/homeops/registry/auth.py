"""Logic: parse ``WWW-Authenticate`` challenges and ``Link`` headers (§3.1). Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin


@dataclass(frozen=True)
class Challenge:
    """One auth challenge: a lower-cased scheme and its parameters (keys lower-cased)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a header: case-insensitive schemes, ``k=v`` and ``k="quoted, \\"x\\""`` params."""
    out: list[Challenge] = []
    i, n = 0, len(header)
    while i < n:
        i = _skip_ws(header, i)
        while i < n and header[i] == ",":
            i = _skip_ws(header, i + 1)
        start = i
        while i < n and header[i] not in " \t,=":
            i += 1
        token = header[start:i]
        if not token:
            i += 1
            continue
        if i < n and header[i] == "=" and out:
            # a parameter of the previous challenge reached after a comma
            i = _param(header, start, out[-1].params)
            continue
        challenge = Challenge(token.lower(), {})
        out.append(challenge)
        while True:
            i = _skip_ws(header, i)
            if i >= n:
                break
            if header[i] == ",":
                i = _skip_ws(header, i + 1)
            j = i
            while j < n and header[j] not in " \t,=":
                j += 1
            k = _skip_ws(header, j)
            if j == i or k >= n or header[k] != "=":
                break  # the next token is a new scheme
            i = _param(header, i, challenge.params)
    return out


def _param(text: str, i: int, into: dict[str, str]) -> int:
    """Parse ``key=value`` at ``i`` into ``into``; return the index after it."""
    n = len(text)
    eq = text.index("=", i)
    key = text[i:eq].strip().lower()
    j = _skip_ws(text, eq + 1)
    if j < n and text[j] == '"':
        j += 1
        chars: list[str] = []
        while j < n and text[j] != '"':
            if text[j] == "\\" and j + 1 < n:
                j += 1
            chars.append(text[j])
            j += 1
        into[key] = "".join(chars)
        return j + 1
    k = j
    while k < n and text[k] not in ", \t":
        k += 1
    into[key] = text[j:k]
    return k


def next_link(header: str | None, request_url: str) -> str | None:
    """The ``rel="next"`` target of a Link header, resolved against the request URL."""
    if not header:
        return None
    for part in header.split(","):
        if "<" not in part or ">" not in part:
            continue
        target = part[part.index("<") + 1 : part.index(">")]
        rels = part[part.index(">") + 1 :].replace(" ", "").lower()
        if 'rel="next"' in rels or "rel=next" in rels:
            return urljoin(request_url, target)
    return None
