"""A local HTTPS imitation of the parts of Entra ID, Graph and Dataverse that the monitor uses.

Used by ``monitor demo``, ``monitor simulator``, the test suite and the benchmarks; production
modules never import it. How to run it, the scenario file format, the fault modes and the
control interface: docs/simulator.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.simulator.faults import FAMILIES, FAULT_MODES, Fault, FaultMode
    from monitor.simulator.scenario import (
        Application,
        ClientCertificate,
        ClientSecret,
        Environment,
        Member,
        Role,
        Scenario,
        ScenarioError,
        Sku,
        Team,
        Tenant,
        User,
        demo_scenario_path,
        load_scenario,
        scenario_from_dict,
    )
    from monitor.simulator.server import Simulator

# Imported on first use, so that ``monitor --help`` and ``monitor simulator --help`` do not pay
# for the HTTPS server, the token signer and the scenario parser.
_HOMES = {
    **dict.fromkeys(("FAMILIES", "FAULT_MODES", "Fault", "FaultMode"), "faults"),
    **dict.fromkeys(
        (
            "Application",
            "ClientCertificate",
            "ClientSecret",
            "Environment",
            "Member",
            "Role",
            "Scenario",
            "ScenarioError",
            "Sku",
            "Team",
            "Tenant",
            "User",
            "demo_scenario_path",
            "load_scenario",
            "scenario_from_dict",
        ),
        "scenario",
    ),
    "Simulator": "server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FAMILIES",
    "FAULT_MODES",
    "Application",
    "ClientCertificate",
    "ClientSecret",
    "Environment",
    "Fault",
    "FaultMode",
    "Member",
    "Role",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "Sku",
    "Team",
    "Tenant",
    "User",
    "demo_scenario_path",
    "load_scenario",
    "scenario_from_dict",
]
