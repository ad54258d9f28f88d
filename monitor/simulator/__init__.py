"""A local HTTPS imitation of the parts of Entra ID, Graph and Dataverse that the monitor uses.

Used by ``monitor demo``, ``monitor simulator``, the test suite and the benchmarks; production
modules never import it. How to run it, the scenario file format, the fault modes and the
control interface: docs/simulator.md.
"""

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
