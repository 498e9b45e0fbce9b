"""Doctor: read-only fan checks: the BMC answers Get Device ID as a Dell, the daemon is fresh and in
control, Home Assistant's mode entity reads. No OEM command is ever sent."""

from __future__ import annotations

from datetime import UTC, datetime

from homeops.config import Config
from homeops.doctor import Check, GroupReport
from homeops.errors import HomeopsError


def checks(config: Config) -> GroupReport:
    """The fan group's report."""
    from homeops.fan.build import Loaded, age_seconds, make_bmc, make_ha
    from homeops.fan.ports import BmcError, HaMiss
    from homeops.fan.runtime import read_state
    from homeops.fan.service import default_runtime_dir
    from homeops.fan.settings import Settings

    s = config.table("fan", Settings)
    loaded = Loaded(s, config, None)
    out: list[Check] = []
    try:
        bmc = make_bmc(loaded)
        try:
            vendor = bmc.manufacturer()
        finally:
            bmc.close()
        if vendor == 674 or s.allow_non_dell:
            out.append(Check("bmc", "ok", f"BMC ({s.bmc}) answers Get Device ID, manufacturer {vendor}"))
        else:
            out.append(Check("bmc", "fail", f"BMC manufacturer {vendor} is not Dell (674)"))
    except (BmcError, HomeopsError) as exc:
        out.append(Check("bmc", "unknown", f"BMC ({s.bmc}) did not answer: {exc}"))
    state = read_state(default_runtime_dir(s.runtime_dir))
    if state is None:
        out.append(Check("daemon", "warn", "no daemon state file: homeops fan run is not running here"))
    else:
        age = age_seconds(state.get("updated_at"), datetime.now(UTC))
        if age is None or age > 3 * s.loop_interval:
            out.append(Check("daemon", "warn", "the daemon's state file is stale"))
        elif state.get("state") != "control":
            out.append(Check("daemon", "warn", f"the daemon is in state {state.get('state')}"))
        else:
            out.append(Check("daemon", "ok", f"daemon in control, fan {state.get('applied_percent')}%"))
    if not s.ha_token:
        out.append(
            Check("ha", "unknown", "no fan.ha_token: Home Assistant is off (mode auto, presence cool)")
        )
    else:
        try:
            ha = make_ha(loaded)
            if ha is None:
                out.append(Check("ha", "unknown", "Home Assistant is off"))
            else:
                st = ha.state(s.mode_entity)
                out.append(Check("ha", "ok", f"{s.mode_entity} = {st.state}"))
        except (HaMiss, HomeopsError) as exc:
            out.append(Check("ha", "unknown", f"{s.mode_entity} did not read: {exc}"))
    return GroupReport("fan", tuple(out))
