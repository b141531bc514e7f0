"""The escalation engine: events, the pure core, clocks and the async runner."""

from hothat.engine.clock import Clock, SystemClock, VirtualClock
from hothat.engine.core import IncidentState, decide, evolve
from hothat.engine.runner import Engine, IncidentView, StepView

__all__ = [
    "Clock",
    "Engine",
    "IncidentState",
    "IncidentView",
    "StepView",
    "SystemClock",
    "VirtualClock",
    "decide",
    "evolve",
]
