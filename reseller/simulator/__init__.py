"""A simulated upstream SMM panel speaking API v2, with latency and fault injection.

For tests, the demo and the benchmarks: `create_app(SimConfig(...))` runs in-process (state at
`app[SIM]`), `python -m reseller.simulator --port N` runs it standalone.
"""

from __future__ import annotations

from reseller.simulator.app import SIM, create_app
from reseller.simulator.catalog import DEFAULT_SERVICES, SimService
from reseller.simulator.cli import main
from reseller.simulator.config import DeliveryProfile, Faults, SimConfig
from reseller.simulator.models import RecordedRequest, SimError, SimOrder, SimRefill
from reseller.simulator.state import Simulator

__all__ = [
    "DEFAULT_SERVICES",
    "SIM",
    "DeliveryProfile",
    "Faults",
    "RecordedRequest",
    "SimConfig",
    "SimError",
    "SimOrder",
    "SimRefill",
    "SimService",
    "Simulator",
    "create_app",
    "main",
]
