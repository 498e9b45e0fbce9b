"""Core: the systemd unit ``homeops-fan.service`` (spec fan.md §3.13). Pure text from settings and options."""

from __future__ import annotations

import math
import os

from homeops.fan.settings import Settings

HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    "PrivateTmp=yes",
    "DevicePolicy=closed",
    "DeviceAllow=char-ipmidev rw",
    "CapabilityBoundingSet=",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
)
NAME = "homeops-fan.service"


def watchdog_sec(s: Settings) -> int:
    """``2 × (loop_interval + 6·ipmi_timeout + 3·ha_timeout + push_timeout)``: 130 s with the defaults."""
    return math.ceil(2 * (s.loop_interval + 6 * s.ipmi_timeout + 3 * s.ha_timeout + s.push_timeout))


def render_unit(
    s: Settings,
    *,
    exec_path: str,
    bmc: str = "local",
    env_file: str | None = None,
    source: str | None = None,
    hardening: bool = True,
    watchdog: bool = True,
    ipmitool_path: str | None = None,
) -> str:
    """The unit text; ``ipmitool_path`` adds the last-resort ``ExecStopPost`` ipmitool line."""
    start = f"{exec_path} fan run --bmc {bmc}"
    if env_file:
        start += f" --env-file {env_file}"
    if source:
        start += f" --source {source}"
    lines = [
        "[Unit]",
        "Description=homeops fan controller (Dell R730, IPMI)",
        "After=network-online.target systemd-modules-load.service",
        "Wants=network-online.target",
        "StartLimitIntervalSec=300",
        "StartLimitBurst=5",
        "",
        "[Service]",
        "Type=notify" if watchdog else "Type=simple",
    ]
    if watchdog:
        lines.append("NotifyAccess=main")
    lines += [f"ExecStart={start}", f"ExecStopPost={exec_path} fan auto --bmc {bmc}"]
    if ipmitool_path:
        lines.append(f"ExecStopPost=-{ipmitool_path} raw 0x30 0x30 0x01 0x01")
    lines += ["Restart=on-failure", "RestartSec=10"]
    if watchdog:
        lines.append(f"WatchdogSec={watchdog_sec(s)}")
    lines += ["TimeoutStopSec=30", "RuntimeDirectory=homeops", "SyslogIdentifier=homeops-fan", "UMask=0077"]
    if hardening:
        lines += list(HARDENING)
        if s.textfile:
            lines.append(f"ReadWritePaths={os.path.dirname(os.path.abspath(s.textfile))}")
    lines += ["", "[Install]", "WantedBy=multi-user.target"]
    return "\n".join(lines) + "\n"
