"""Phone trees (telefonkedja): a node that does not answer never cuts off its subtree."""

from __future__ import annotations

import attrs
from engine_kit import Deadlines, Rig, minutes, municipality, person, sms, step

from hothat.domain import Strategy, TreeNode
from hothat.engine.core import StepStatus


def tree_municipality(needed: int) -> object:
    # 15 people: a root, 2 branch nodes, each with 2 sub-branches of 3 leaves (1 + 2 + 4 + 8 = 15).
    ids = [f"p{i:02d}" for i in range(1, 16)]
    nodes = iter(ids)

    def build(depth: int) -> TreeNode:
        me = next(nodes)
        if depth == 3:
            return TreeNode(person=me)
        return TreeNode(person=me, children=(build(depth + 1), build(depth + 1)))

    tree = build(0)
    muni = municipality(
        step(
            "larm",
            "municipal_security_chief",
            strategy=Strategy.TREE,
            tree=tree,
            needed=needed,
            deadlines=Deadlines(ack_within=minutes(5)),
        )
    )
    people = dict(muni.directory.people)
    for i, pid in enumerate(ids):
        people[pid] = person(pid, f"Person {i + 1}", sms(60 + i))
    return attrs.evolve(muni, directory=attrs.evolve(muni.directory, people=people))


async def test_fifteen_person_tree_with_three_silent_nodes_reaches_everyone_reachable() -> None:
    silent = {"p01", "p02", "p09"}  # the root and two branch nodes never answer
    rig = Rig(tree_municipality(needed=12))  # type: ignore[arg-type]
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        for _ in range(12):  # everyone but the silent answers as soon as the call reaches them
            while True:
                await rig.engine.idle()
                asked = {m.person_id for m in rig.sent if m.kind == "notify"}
                answered = {e.person for e in await rig.types(incident.id, "Acknowledged")}
                todo = sorted(asked - answered - silent)
                if not todo:
                    break
                for pid in todo:
                    await rig.engine.acknowledge(incident.id, step="larm", person=pid, via="sms")
            await rig.engine.advance("5m")
        reached = {m.person_id for m in rig.sent if m.kind == "notify"}
        assert reached == {f"p{i:02d}" for i in range(1, 16)}
        view = await rig.engine.status(incident.id)
        assert view.step("larm").status is StepStatus.ACKNOWLEDGED
        passed = await rig.types(incident.id, "TreeNodePassed")
        assert {(e.node, e.outcome) for e in passed if e.outcome == "no_answer"} == {
            (0, "no_answer"),
            (1, "no_answer"),
            (8, "no_answer"),
        }
        done = max(e.at for e in await rig.types(incident.id, "Acknowledged"))
        # The silent root and the two silent branch nodes cost one ack_within per tree level (two levels):
        # everyone below them is reached and has answered after 10 minutes.
        assert done - incident.reported_at == minutes(10)


async def test_a_declining_node_calls_its_children_at_once() -> None:
    rig = Rig(tree_municipality(needed=1))  # type: ignore[arg-type]
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        await rig.engine.decline(incident.id, step="larm", person="p01", via="voice")
        await rig.engine.idle()
        assert sorted(m.person_id for m in rig.sent) == ["p01", "p02", "p09"]
        await rig.engine.acknowledge(incident.id, step="larm", person="p09", via="voice")
        await rig.engine.advance("1h")
        # Enough answers: nobody else is called, and those asked are told who took it.
        assert sorted(m.person_id for m in rig.sent if m.kind == "notify") == ["p01", "p02", "p09"]
        assert sorted(m.person_id for m in rig.sent if m.kind == "taken") == ["p01", "p02"]


async def test_a_tree_where_nobody_answers_is_exhausted_and_reported() -> None:
    rig = Rig(tree_municipality(needed=1))  # type: ignore[arg-type]
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("1h")
        assert len({m.person_id for m in rig.sent if m.kind == "notify"}) == 15
        assert len(await rig.types(incident.id, "EscalationExhausted")) == 1
        assert [m.kind for m in rig.to("sara")] == ["unresolved"]
