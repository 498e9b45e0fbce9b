"""Logic: the Slack text and payload for one activation, with every client-chosen value escaped (§3.5)."""

from __future__ import annotations

import unicodedata
from typing import Any

from homeops.kms.logparse import Event

MAX_VALUE = 100


def escape(value: str) -> str:
    """Slack-safe: ``& < >`` as entities, backticks as ``'``, control characters removed, cut to 100 chars."""
    text = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf") or ch == " ")
    text = text.replace("`", "'")
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def activation_text(event: Event) -> str:
    """The message text, with real newlines and U+2022 bullets."""
    workstation = escape(event.workstation) if event.workstation else "?"
    status = escape(event.status) if event.status else "unknown"
    return "\n".join(
        [
            ":computer: KMS activation",
            f"• *Client*: `{escape(event.ip)}` ({event.source})",
            f"• *Workstation*: `{workstation}`",
            f"• *Product*: `{escape(event.product or 'unknown')}`",
            f"• *Status before*: {status}",
        ]
    )


def payload(text: str, *, channel: str, username: str, icon_emoji: str) -> dict[str, Any]:
    """The webhook body."""
    return {"channel": channel, "text": text, "username": username, "icon_emoji": icon_emoji}
