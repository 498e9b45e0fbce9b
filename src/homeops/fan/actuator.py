"""Adapter glue: the Dell OEM fan commands (netfn 0x30 cmd 0x30) with the manual-mode flag, through the
``Bmc`` port (spec fan.md §3.4); under dry run nothing is sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from homeops.fan.ports import Bmc, BmcError, Clock

LogFn = Callable[[str, str], None]
REFUSAL_CODES = (0xC1, 0xD4)  # the firmware refuses Dell fan control (iDRAC ≥ 3.34.34.34, non-admin user)


def oem_text(data: Sequence[int]) -> str:
    """``0x02 0xff 0x33``: the bytes as the plugin logs them."""
    return " ".join(f"0x{b:02x}" for b in data)


class Actuator:
    """Dell OEM fan commands with the manual-mode flag (§3.4); under dry run nothing is sent."""

    def __init__(self, bmc: Bmc, clock: Clock, log: LogFn, *, dry_run: bool = False) -> None:
        self.bmc = bmc
        self.clock = clock
        self.log = log
        self.dry_run = dry_run
        self.manual_on = False
        self.last_enable: float | None = None
        self.actions: list[str] = []

    def _send(self, data: list[int]) -> int:
        self.actions.append(oem_text(data))
        return self.bmc.oem(data)

    def set_manual(self, pct: int) -> Literal["ok", "failed", "refused"]:
        """Enable manual mode if needed (stop if that fails), then set all fans to ``pct``."""
        if self.dry_run:
            if not self.manual_on:
                self.actions.append(oem_text([0x01, 0x00]))
            self.actions.append(oem_text([0x02, 0xFF, pct]))
            self.log("INFO", f"DRY set fan {pct}% (0x{pct:02x})")
            self.manual_on = True
            return "ok"
        try:
            if not self.manual_on:
                cc = self._send([0x01, 0x00])
                if cc in REFUSAL_CODES:
                    return "refused"
                if cc != 0:
                    return "failed"
                self.manual_on = True
                self.last_enable = self.clock.now()
            cc = self._send([0x02, 0xFF, pct])
        except BmcError:
            return "failed"
        return "ok" if cc == 0 else "failed"

    def restore_auto(self) -> bool:
        """Hand the fans back to Dell auto (``0x01 0x01``); WARN on failure; manual mode is off either way."""
        self.manual_on = False
        if self.dry_run:
            self.actions.append(oem_text([0x01, 0x01]))
            self.log("INFO", "DRY restore Dell auto fan control")
            return True
        try:
            cc = self._send([0x01, 0x01])
        except BmcError as exc:
            self.log("WARN", f"restore Dell auto failed: {exc}")
            return False
        if cc != 0:
            self.log("WARN", f"restore Dell auto failed: completion code 0x{cc:02x}")
            return False
        return True
