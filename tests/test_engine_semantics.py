"""Escalation semantics: each test states one behaviour a municipality relies on."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from engine_kit import (
    ChecklistItem,
    Deadlines,
    FactCondition,
    Rig,
    Severity,
    Strategy,
    minutes,
    municipality,
    names,
    step,
)

from hothat.channels import InboundEvent, InboundKind
from hothat.engine import events as ev
from hothat.engine.core import StepStatus, retry_delay
from hothat.errors import (
    AmbiguousDeliveryError,
    IncidentError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

ACK15 = Deadlines(ack_within=minutes(15))


def escalating_step(**kw: object) -> object:
    defaults: dict[str, object] = {
        "deadlines": ACK15,
        "escalation": ("party_group_leader", "municipal_security_strategist"),
    }
    defaults.update(kw)
    return step("3.1.1", "party_security_contact", **defaults)


async def test_owner_is_notified_at_report_and_ack_stops_escalation() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s", targeted="anna")
        await rig.engine.idle()
        assert [m.person_id for m in rig.sms.sent] == ["per"]
        await rig.engine.acknowledge(incident.id, step="3.1.1", person="per", via="sms")
        await rig.engine.advance("3h")
        assert [m.person_id for m in rig.sent if m.kind == "notify"] == ["per"]
        assert not await rig.types(incident.id, "Escalated", "EscalationExhausted")
        view = await rig.engine.status(incident.id)
        assert view.step("3.1.1").status is StepStatus.ACKNOWLEDGED
        assert view.step("3.1.1").assignees == ("per",)


async def test_missed_ack_escalates_through_the_list_at_the_right_times() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("14m")
        assert rig.to("eva") == []
        await rig.engine.advance("1m")
        assert [m.kind for m in rig.to("eva")] == ["escalation"]
        await rig.engine.advance("15m")
        assert {m.person_id for m in rig.sent if m.kind == "escalation"} == {"eva", "karin", "lars"}
        escalations = await rig.types(incident.id, "Escalated")
        assert [(e.to_level, (e.at - incident.reported_at)) for e in escalations] == [
            (1, minutes(15)),
            (2, minutes(30)),
        ]


async def test_repeat_goes_through_the_chain_again_then_exhausts_and_tells_unresolved_to() -> None:
    rig = Rig(municipality(escalating_step(repeat=1)))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("2h")
        trail = await rig.trail(incident.id)
        escalations = [e for e in trail if isinstance(e, ev.Escalated)]
        assert [(e.to_level, e.round) for e in escalations] == [(1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
        exhausted = [e for e in trail if isinstance(e, ev.EscalationExhausted)]
        assert len(exhausted) == 1
        assert exhausted[0].at - incident.reported_at == minutes(90)
        # The security chief (unresolved_to) is told, and may still take the step.
        assert [m.kind for m in rig.to("sara")] == ["unresolved"]
        # Per is asked once per round: SMS at once, e-mail 10 minutes later.
        assert [(m.kind, m.medium) for m in rig.to("per")] == [
            ("notify", "sms"),
            ("notify", "email"),
            ("escalation", "sms"),
            ("escalation", "email"),
        ]
        await rig.engine.acknowledge(incident.id, step="3.1.1", person="sara", via="sms")
        assert (await rig.engine.status(incident.id)).step("3.1.1").assignees == ("sara",)


async def test_party_without_security_contact_falls_back_to_group_leader() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="m")
        await rig.engine.idle()
        assert [m.person_id for m in rig.sent] == ["gustav"]
        resolved = (await rig.types(incident.id, "TargetsResolved"))[0]
        assert resolved.via == ("party_security_contact", "party_group_leader")


async def test_role_with_nobody_never_drops_the_step() -> None:
    rig = Rig(municipality(step("1", "nobody_role", deadlines=ACK15, escalation=("municipal_ceo",))))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        trail = await rig.trail(incident.id)
        assert "RoleUnresolved" in names(trail)
        # unresolved_to is told at once, and the next level is asked at once (no waiting on nobody).
        assert [m.kind for m in rig.to("sara")] == ["unresolved"]
        assert [m.kind for m in rig.to("jan")] == ["escalation"]


async def test_unresolvable_unresolved_to_is_recorded_and_does_not_loop() -> None:
    rig = Rig(municipality(step("1", "nobody_role", deadlines=ACK15), unresolved_to="nobody_role"))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("1h")
        trail = await rig.trail(incident.id)
        assert names(trail).count("RoleUnresolved") == 3  # owner, unresolved_to after it, after exhaustion
        assert "EscalationExhausted" in names(trail)
        assert rig.sent == []


async def test_decline_moves_on_at_once() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("2m")
        await rig.engine.decline(incident.id, step="3.1.1", person="per", via="sms")
        await rig.engine.idle()
        eva = rig.to("eva")
        assert [m.kind for m in eva] == ["escalation"]
        escalated = (await rig.types(incident.id, "Escalated"))[0]
        assert escalated.reason == "declined"
        assert escalated.at - incident.reported_at == minutes(2)


async def test_all_strategy_asks_every_holder_at_once() -> None:
    rig = Rig(municipality(step("1", "municipal_security_strategist", deadlines=ACK15)))
    async with rig.engine:
        await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        assert sorted(m.person_id for m in rig.sent) == ["karin", "lars"]


async def test_sequential_strategy_asks_one_holder_at_a_time() -> None:
    rig = Rig(
        municipality(
            step(
                "1",
                "municipal_security_strategist",
                deadlines=ACK15,
                strategy=Strategy.SEQUENTIAL,
                escalation=("municipal_ceo",),
            )
        )
    )
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        assert [m.person_id for m in rig.sms.sent] == ["karin"]
        await rig.engine.advance("15m")
        assert [m.person_id for m in rig.sms.sent] == ["karin", "lars"]
        await rig.engine.decline(incident.id, step="1", person="lars")
        await rig.engine.idle()
        assert [m.person_id for m in rig.sms.sent] == ["karin", "lars", "jan"]


async def test_when_fact_waits_while_undecided_and_skips_when_false() -> None:
    rig = Rig(
        municipality(
            step("3.1.2", "municipal_security_strategist"),
            step("3.1.3", "municipal_ceo", when=FactCondition("police_report_wanted")),
            step("3.2.2", "party_security_contact", when=FactCondition("needs_healthcare"), after=("3.1.2",)),
        )
    )
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.complete(incident.id, step="3.1.2", person="karin", note="Polisen kontaktad")
        await rig.engine.advance("1h")
        view = await rig.engine.status(incident.id)
        assert view.step("3.1.3").status is StepStatus.PENDING
        assert view.step("3.1.3").waiting_for == "police_report_wanted"
        assert rig.to("jan") == []
        await rig.engine.record_fact(incident.id, "needs_healthcare", False, by="anna")
        await rig.engine.record_fact(incident.id, "police_report_wanted", True, by="anna")
        await rig.engine.idle()
        view = await rig.engine.status(incident.id)
        assert view.step("3.2.2").status is StepStatus.SKIPPED
        assert view.step("3.1.3").status is StepStatus.ACTIVE
        assert [m.kind for m in rig.to("jan")] == ["notify"]


async def test_after_dependencies_and_parallel_steps() -> None:
    rig = Rig(
        municipality(
            step("a", "municipal_security_strategist"),
            step("b", "municipal_ceo"),  # after a (the previous step)
            step("c", "municipal_security_chief", after=()),  # parallel: starts at once
        )
    )
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        assert {m.person_id for m in rig.sent} == {"karin", "lars", "sara"}
        await rig.engine.complete(incident.id, step="a", person="karin")
        await rig.engine.idle()
        assert [m.person_id for m in rig.to("jan")] == ["jan"]


async def test_joint_owners_must_both_take_the_step() -> None:
    rig = Rig(municipality(step("3.2.3", "party_security_contact", "municipal_security_strategist", deadlines=ACK15)))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.acknowledge(incident.id, step="3.2.3", person="per")
        with pytest.raises(IncidentError, match="joint"):
            await rig.engine.complete(incident.id, step="3.2.3", person="per")
        await rig.engine.advance("15m")
        # The strategist slot runs out on its own (no escalation list); the taken slot does not.
        exhausted = await rig.types(incident.id, "EscalationExhausted")
        assert [e.slot for e in exhausted] == [1]
        await rig.engine.acknowledge(incident.id, step="3.2.3", person="karin")
        await rig.engine.complete(incident.id, step="3.2.3", person="karin", note="Information lämnad")
        assert (await rig.engine.status(incident.id)).step("3.2.3").status is StepStatus.COMPLETED


async def test_checklist_items_must_be_ticked_before_completion() -> None:
    items = (
        ChecklistItem("access_protection", __import__("hothat.domain", fromlist=["Text"]).Text("Åtkomstskydd")),
        ChecklistItem("mandate_link", __import__("hothat.domain", fromlist=["Text"]).Text("Koppling")),
    )
    rig = Rig(municipality(step("3.1.3", "municipal_ceo", checklist=items)))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.check(incident.id, step="3.1.3", item="access_protection", person="jan")
        with pytest.raises(IncidentError, match="mandate_link"):
            await rig.engine.complete(incident.id, step="3.1.3", person="jan")
        await rig.engine.complete(incident.id, step="3.1.3", person="jan", checked=["mandate_link"])
        checked = await rig.types(incident.id, "ChecklistChecked")
        assert [e.item for e in checked] == ["access_protection", "mandate_link"]


async def test_done_within_reminds_assignee_and_tells_escalation_role() -> None:
    rig = Rig(municipality(escalating_step(deadlines=Deadlines(minutes(15), timedelta(hours=2)))))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("5m")
        await rig.engine.acknowledge(incident.id, step="3.1.1", person="per")
        await rig.engine.advance("1h59m")
        assert rig.to("per", "reminder") == []
        await rig.engine.advance("2m")
        assert len(rig.to("per", "reminder")) == 1
        assert len(rig.to("eva", "reminder")) == 1
        overdue = await rig.types(incident.id, "CompletionOverdue")
        assert overdue[0].at - incident.reported_at == minutes(125)


async def test_acute_severity_uses_shorter_deadlines() -> None:
    fast = {Severity.ACUTE: Deadlines(ack_within=minutes(5))}
    rig = Rig(municipality(escalating_step(by_severity=fast)))
    async with rig.engine:
        acute = await rig.engine.report(kind="violence", severity="acute", party="s")
        serious = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("6m")
        assert len(await rig.types(acute.id, "Escalated")) == 1
        assert await rig.types(serious.id, "Escalated") == []


async def test_adviser_outside_office_hours_is_skipped_and_the_trail_says_so() -> None:
    rig = Rig(municipality(step("1", "skr_advisor", deadlines=ACK15, escalation=("municipal_security_chief",))))
    async with rig.engine:  # Friday 21:00 UTC = 22:00 in Stockholm
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        assert rig.to("rut") == []
        unresolved = (await rig.types(incident.id, "RoleUnresolved"))[0]
        assert unresolved.unavailable == ("rut",)
        assert [m.kind for m in rig.to("sara")] == ["unresolved", "escalation"]


async def test_contact_points_are_tried_in_order_with_their_delays() -> None:
    rig = Rig(municipality(step("1", "municipal_ceo", deadlines=Deadlines(ack_within=minutes(30)))))
    async with rig.engine:
        await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("4m")
        assert [m.medium for m in rig.to("jan")] == ["sms"]
        await rig.engine.advance("1m")
        assert [m.medium for m in rig.to("jan")] == ["sms", "email"]


async def test_transient_failure_is_retried_with_backoff_then_moves_on() -> None:
    rig = Rig(municipality(step("1", "municipal_ceo", deadlines=Deadlines(ack_within=minutes(60)))))
    rig.sms.fail_with["+46701740630"] = RetryableDeliveryError("503 from provider")
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("10m")
        failed = await rig.types(incident.id, "DeliveryFailed")
        # Each retry waits 30 s, 2 min, then 5 min, plus a jitter of up to 20 % fixed by the message key.
        offsets = [e.at - incident.reported_at for e in failed]
        assert [e.failure for e in failed] == ["retryable"] * 4
        gaps = [b - a for a, b in itertools.pairwise(offsets)]
        for gap, base in zip(gaps, (30, 120, 300), strict=True):
            assert timedelta(seconds=base) <= gap <= timedelta(seconds=base * 1.2)
        assert gaps == [
            retry_delay(n, None, failed[n - 1].key) for n in (1, 2, 3)
        ]  # After the bounded retries the e-mail contact point is used at once.
        assert [m.medium for m in rig.to("jan")] == ["email"]
        assert rig.to("jan")[0].key.endswith(":1:0")


async def test_permanent_failure_moves_to_next_contact_point_at_once() -> None:
    rig = Rig(municipality(step("1", "municipal_ceo", deadlines=ACK15)))
    rig.sms.fail_with["+46701740630"] = PermanentDeliveryError("not a mobile number")
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        assert [m.medium for m in rig.to("jan")] == ["email"]
        failed = await rig.types(incident.id, "DeliveryFailed")
        assert [e.failure for e in failed] == ["permanent"]


async def test_ambiguous_failure_is_never_resent_in_the_same_level() -> None:
    rig = Rig(municipality(step("1", "municipal_ceo", deadlines=ACK15)))
    rig.sms.fail_with["+46701740630"] = AmbiguousDeliveryError("read timeout after sending")
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("14m")
        queued = [e for e in await rig.types(incident.id, "NotificationQueued") if e.medium == "sms"]
        assert len(queued) == 1
        # The next contact point follows by the clock (5 minutes), not at once.
        assert [e.at - incident.reported_at for e in await rig.types(incident.id, "NotificationQueued")] == [
            minutes(0),
            minutes(5),
        ]


async def test_everyone_asked_is_told_who_took_the_step() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("31m")  # per, eva, karin and lars have been asked
        await rig.engine.acknowledge(incident.id, step="3.1.1", person="karin", via="sms")
        await rig.engine.idle()
        told = sorted(m.person_id for m in rig.sent if m.kind == "taken")
        assert told == ["eva", "lars", "per"]
        # Each is told where they were last reached: Lars (SMS only) by SMS, Per (SMS, then e-mail) by e-mail. At the
        # minimal level of these channels the taker is named by the role she was asked as, never by name.
        by_sms = next(m for m in rig.sent if m.kind == "taken" and m.person_id == "lars")
        assert by_sms.medium == "sms"
        assert "Säkerhetsstrateg" in by_sms.text
        assert "Karin" not in by_sms.text
        by_mail = next(m for m in rig.sent if m.kind == "taken" and m.person_id == "per")
        assert by_mail.medium == "email"
        assert "Säkerhetsstrateg" in by_mail.text


async def test_close_stops_everything_and_tells_those_asked() -> None:
    rig = Rig(municipality(escalating_step(repeat=3)))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.advance("5m")
        await rig.engine.close(incident.id, by="karin", reason="Felrapporterat")
        await rig.engine.idle()
        before = len(rig.sent)
        await rig.engine.advance("6h")
        assert len(rig.sent) == before
        assert [m.kind for m in rig.to("per")] == ["notify", "closed"]
        assert await rig.store.next_wake() is None
        with pytest.raises(IncidentError, match="closed"):
            await rig.engine.acknowledge(incident.id, step="3.1.1", person="per")


async def test_sms_reply_code_acknowledges_through_the_inbound_path() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        await rig.engine.idle()
        code = rig.sms.sent[0].reply_code
        assert code is not None
        assert code in rig.sms.sent[0].text
        await rig.engine.handle_inbound(
            InboundEvent(InboundKind.ACKNOWLEDGE, "sms", address="+46701740610", reply_code=code)
        )
        acked = (await rig.types(incident.id, "Acknowledged"))[0]
        assert (acked.person, acked.via) == ("per", "sms")


async def test_reply_codes_are_distinct_per_person_across_incidents() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        first = await rig.engine.report(kind="threat", severity="serious", party="s")
        second = await rig.engine.report(kind="hate", severity="threat", party="s")
        await rig.engine.idle()
        codes = [m.reply_code for m in rig.sms.sent]
        assert len(set(codes)) == 2
        await rig.engine.handle_inbound(
            InboundEvent(InboundKind.DECLINE, "sms", address="+46701740610", reply_code=codes[1])
        )
        assert await rig.types(first.id, "Declined") == []
        assert len(await rig.types(second.id, "Declined")) == 1


async def test_unknown_person_cannot_take_a_step() -> None:
    rig = Rig(municipality(escalating_step()))
    async with rig.engine:
        incident = await rig.engine.report(kind="threat", severity="serious", party="s")
        with pytest.raises(IncidentError, match="was not asked"):
            await rig.engine.acknowledge(incident.id, step="3.1.1", person="jan")
        with pytest.raises(IncidentError, match="no person"):
            await rig.engine.acknowledge(incident.id, step="3.1.1", person="mallory")


async def test_the_engine_hands_a_channel_no_more_messages_at_once_than_it_takes() -> None:
    import asyncio

    from hothat.channels import MemoryChannel, OutboundMessage, Receipt

    class Narrow(MemoryChannel):
        """Takes two messages at a time; the others must wait in the engine, not in the channel."""

        in_flight = 0
        most = 0
        release = asyncio.Event()

        @property
        def concurrency(self) -> int:
            return 2

        async def deliver(self, message: OutboundMessage) -> Receipt:
            Narrow.in_flight += 1
            Narrow.most = max(Narrow.most, Narrow.in_flight)
            await Narrow.release.wait()
            Narrow.in_flight -= 1
            return await super().deliver(message)

    rig = Rig(municipality(step("1", "municipal_security_strategist"), step("2", "municipal_ceo", after=())))
    narrow = Narrow()
    rig.engine._channel_overrides["sms"] = narrow
    async with rig.engine:
        for _ in range(3):
            await rig.engine.report(kind="threat", severity="serious", party="s")
        for _ in range(5):
            await asyncio.sleep(0)  # let every delivery task start and queue
        assert Narrow.in_flight == 2
        Narrow.release.set()
        await rig.engine.idle()
    assert Narrow.most == 2
    assert len(narrow.sent) == 9  # 3 incidents × (Karin, Lars, Jan), none lost to waiting
