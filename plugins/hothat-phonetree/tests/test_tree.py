"""A phone tree (telefonkedja) of 15 people over the voice channel, against the fake gateway over real HTTP.

The tree is binary: a root, two branch nodes, four sub-branches and eight leaves (1 + 2 + 4 + 8 = 15 people).
The root and both branch nodes never answer. The engine's tree strategy never lets a silent node cut off its
subtree: when a node's ``ack_within`` (5 minutes) passes, its children are called. Everyone reachable is
called once and answers with key 1.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hothat.channels import DeliveryStatus
from hothat.config import load_config_text
from hothat.engine import Engine, VirtualClock
from hothat.engine import events as ev
from hothat.engine.core import StepStatus
from hothat.store import MemoryStore
from hothat_phonetree import VoiceChannel, VoiceSettings
from hothat_phonetree.testing import Callee, CallRecord, FakeVoiceGateway, WebhookServer

from .conftest import TLS

PEOPLE = [f"p{n:02d}" for n in range(1, 16)]
NUMBER = {pid: f"+467017406{49 + n:02d}" for n, pid in enumerate(PEOPLE, start=1)}  # PTS fiction numbers
SILENT = {"p01", "p02", "p09"}  # the root and the two branch nodes


def tree(nodes: Iterator[str], depth: int = 0) -> str:
    """The tree as a TOML inline table: depth 0 is the root, depth 3 the leaves."""
    me = next(nodes)
    if depth == 3:
        return f'{{ person = "{me}" }}'
    children = ", ".join(tree(nodes, depth + 1) for _ in range(2))
    return f'{{ person = "{me}", children = [{children}] }}'


def municipality_toml() -> str:
    people = "\n".join(
        f'[[people]]\nid = "{pid}"\nname = "Person {pid[1:]}"\ncontact = [{{ voice = "{NUMBER[pid]}" }}]\n'
        for pid in PEOPLE
    )
    return f"""
[municipality]
id = "tradkommun"
name = "Trädkommuns förvaltning"
reference_prefix = "TK"
default_routine = "kedja"

{people}
[holders]
municipal_security_strategist = ["p01"]

[[routines]]
id = "kedja"
name = {{ sv = "Telefonkedja vid allvarligt hot", en = "Phone tree for a serious threat" }}

[[routines.steps]]
id = "1"
title = {{ sv = "Larmkedjan", en = "The alert chain" }}
owner = "municipal_security_strategist"
strategy = "tree"
needed = 12
ack_within = "5m"
tree = {tree(iter(PEOPLE))}

# A complete table (load_config checks it with the plugin's settings); the test replaces the channel built from it.
[channels.voice]
plugin = "voice"
public_base_url = "https://placeholder.example/hooks/voice"

[[channels.voice.providers]]
provider = "twilio"
account_sid = "AC{"0" * 32}"
auth_token = "placeholder-token"
caller_id = "+46766861005"
"""


@pytest.fixture
def gateway() -> Iterator[FakeVoiceGateway]:
    with FakeVoiceGateway() as gateway:
        yield gateway


def test_the_tree_is_the_one_described() -> None:
    muni = load_config_text(municipality_toml(), "tree.toml")
    root = muni.routines["kedja"].steps[0].tree
    assert root is not None
    assert [n.person for n in root.walk()] == PEOPLE
    assert [c.person for c in root.children] == ["p02", "p09"]
    assert [len(c.children) for c in root.children[0].children] == [2, 2]


@pytest.mark.parametrize("provider", ["twilio", "46elks", "sinch"])
async def test_a_15_person_tree_with_3_silent_nodes_calls_everyone_reachable(
    gateway: FakeVoiceGateway, provider: str
) -> None:
    started = time.perf_counter()
    clock = VirtualClock(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))  # a Saturday night
    engine: Engine | None = None

    async def inbound(method: str, url: str, headers: Any, body: bytes) -> Any:
        assert engine is not None
        return await engine.inbound("voice", method, url, headers, body)

    records: list[CallRecord] = []
    for pid, number in NUMBER.items():
        gateway.expect(number, Callee.no_answer() if pid in SILENT else Callee.presses("1"))
    async with WebhookServer(inbound) as app, httpx.AsyncClient(verify=TLS) as client:
        settings = {"public_base_url": f"{app.url}/hooks/voice", "providers": [gateway.voice_table(provider)]}
        voice = VoiceChannel(
            VoiceSettings.model_validate(settings), client=client, clock=lambda: clock.now().timestamp()
        )
        if provider == "sinch":
            gateway.sinch_callback_url = voice.webhook_url("sinch")
        engine = Engine(
            load_config_text(municipality_toml(), "tree.toml"),
            store=MemoryStore(),
            clock=clock,
            channels={"voice": voice},
            token_secret=b"tree-link-secret" * 2,
        )
        async with engine:
            incident = await engine.report(kind="threat", severity="serious")
            for _ in range(30):
                await engine.idle()
                while pending := gateway.pending():
                    records.extend(await asyncio.to_thread(lambda: [gateway.complete(c) for c in pending]))
                    await engine.idle()
                if (await engine.status(incident.id)).step("1").status is StepStatus.ACKNOWLEDGED:
                    break
                await engine.advance("1m")
            trail = await engine.trail(incident.id)

    # Everyone was called once; the three silent nodes once more, to be told the step is taken.
    called = Counter(r.call.to for r in records)
    assert called == Counter({number: 2 if pid in SILENT else 1 for pid, number in NUMBER.items()})
    acks = [e for e in trail if isinstance(e, ev.Acknowledged)]
    assert {e.person for e in acks} == set(PEOPLE) - SILENT
    assert all(e.via == "voice" for e in acks)
    passed = {(e.node, e.outcome) for e in trail if isinstance(e, ev.TreeNodePassed) and e.outcome == "no_answer"}
    assert passed == {(0, "no_answer"), (1, "no_answer"), (8, "no_answer")}
    outcomes = [e.status for e in trail if isinstance(e, ev.DeliveryConfirmed)]
    assert outcomes == [DeliveryStatus.NO_ANSWER] * 6  # the silent nodes' calls, recorded as not answered
    whole_tree = max(e.at for e in acks) - incident.reported_at
    # Two silent levels cost one ack_within (5 minutes) each; everyone below them answers at once.
    assert whole_tree == timedelta(minutes=10)
    print(f"\n{provider}: the whole tree took {whole_tree} of virtual time, {time.perf_counter() - started:.2f} s wall")
