"""A local HTTPS imitation of the parts of Entra ID and Dataverse that the monitor uses.

Used by ``monitor demo``, ``monitor simulator``, the test suite and the benchmark; production
modules never import it. Typical use::

    from monitor.simulator import Simulator, load_scenario

    with Simulator(load_scenario(path), state_dir=tmp_path) as sim:
        sim.ca_path            # trust this CA bundle (a requests.Session with trust_env=False)
        sim.authority_host     # https://localhost:PORT
        sim.environment_url("contoso-prod")

See :mod:`monitor.simulator.scenario` for the scenario file format and
:mod:`monitor.simulator.faults` for fault injection.
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
