"""examples/case_system: an observer that forwards the trail to a case system, run through the engine against a
fake case system (a Starlette app reached through httpx's ASGI transport: no sockets)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hothat.engine import events as ev
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.testing import Simulation

ROOT = Path(__file__).resolve().parents[1]
OXELOSUND = ROOT / "examples" / "oxelosund" / "municipality.toml"
DESCRIPTION = "Hotfullt brev i brevlådan hemma, undertecknat med förövarens namn."


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ex = load("case_forwarder", ROOT / "examples" / "case_system" / "case_forwarder.py")


class FakeCaseSystem:
    """Keeps events per case, once per Idempotency-Key; can be told to be down."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.cases: dict[str, list[dict[str, Any]]] = {}
        self.keys: set[str] = set()
        self.down = False
        self.app = Starlette(routes=[Route("/cases/{reference}/events", self.post, methods=["POST"])])

    async def post(self, request: Request) -> Response:
        if self.down:
            return Response(status_code=503)
        body = await request.body()
        self.raw.append(body)
        key = request.headers["idempotency-key"]
        if key not in self.keys:
            self.keys.add(key)
            self.cases.setdefault(request.path_params["reference"], []).append(json.loads(body))
        return JSONResponse({"ok": True}, status_code=201)


@pytest.fixture
def case_system() -> FakeCaseSystem:
    return FakeCaseSystem()


# --8<-- [start:register]
def forwarder(case_system: FakeCaseSystem) -> Any:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=case_system.app), base_url="http://arende.test")
    return ex.CaseForwarder(client)


def simulation(*plugins: object) -> Simulation:
    return Simulation(OXELOSUND, plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False, plugins=plugins)))


# --8<-- [end:register]


async def test_the_whole_trail_reaches_the_case_system_in_order(case_system: FakeCaseSystem) -> None:
    fwd = forwarder(case_system)
    async with simulation(fwd) as sim:
        sim.person("per").answers_after("5m").completes_after("20m")
        incident = await sim.report(kind="threat", severity="serious", party="s", description=DESCRIPTION)
        await sim.advance("1h")
        trail = await sim.trail()

    received = case_system.cases[incident.reference]
    assert [r["type"] for r in received] == [type(e).__name__ for e in trail]
    assert received[0]["incident"]["reference"] == incident.reference
    assert {"Acknowledged", "StepCompleted"} <= {r["type"] for r in received}
    assert fwd.pending == {}


async def test_descriptions_names_party_and_addresses_never_leave(case_system: FakeCaseSystem) -> None:
    async with simulation(forwarder(case_system)) as sim:
        sim.everyone().answers_after("2m").completes_after("5m")
        await sim.report(
            kind="threat", severity="serious", party="s", targeted="lena", description=DESCRIPTION, facts={}
        )
        await sim.engine.close(sim.incident.id, by="karin", reason="Polisen har tagit över; Lena Kask informerad")
        await sim.advance("1h")

    sent = b"\n".join(case_system.raw).decode()
    assert case_system.raw
    for secret in ("brevlådan", "förövarens", "Lena", "Kask", "lena", "Socialdemokraterna", '"party"', "+4670", "@"):
        assert secret not in sent, secret


async def test_an_event_observed_twice_is_sent_once(case_system: FakeCaseSystem) -> None:
    fwd = forwarder(case_system)
    async with simulation(fwd) as sim:
        await sim.report(kind="threat", severity="serious", party="m")
        first = (await sim.trail())[0]
        posts = len(case_system.raw)
        assert fwd.hothat_incident_event(first, sim.incident) is None  # remembered: not posted again
        assert len(case_system.raw) == posts

        # After a restart the forwarder has forgotten, and the engine may observe the last commit again: the key is
        # the same, so the case system keeps one copy.
        again = ev.decode(*ev.encode(first))
        restarted = forwarder(case_system)
        await restarted.hothat_incident_event(again, sim.incident)
        assert len(case_system.raw) == posts + 1
        assert len(case_system.cases[sim.incident.reference]) == len(await sim.trail())


async def test_a_case_system_outage_delays_nothing_and_loses_nothing(case_system: FakeCaseSystem) -> None:
    fwd = forwarder(case_system)
    case_system.down = True
    async with simulation(fwd) as sim:
        incident = await sim.report(kind="violence", severity="acute", party="s")
        await sim.advance("4m")
        assert sim.messages(person="per", step="3.1.1")  # the escalation went on
        assert incident.reference not in case_system.cases
        waiting = len(fwd.pending)
        assert waiting == len(await sim.trail())

        case_system.down = False
        await sim.advance("10m")  # the next event flushes the backlog first
        trail = await sim.trail()
    assert [r["type"] for r in case_system.cases[incident.reference]] == [type(e).__name__ for e in trail]
