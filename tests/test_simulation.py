"""The simulation: scripted people answer through the real inbound paths, on a virtual clock, and the timeline
shows what the engine recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from engine_kit import Deadlines, minutes, municipality, step

from hothat.config import load_example
from hothat.domain import Municipality
from hothat.engine import events as ev
from hothat.testing import (
    PersonScript,
    Simulation,
    SimulationAssertionError,
    SimulationError,
    SyncSimulation,
    format_offset,
)

OX = load_example("oxelosund")
START = "2026-03-12 21:30"  # a Thursday evening in Oxelösund (UTC+1)


def sim_of(config: Municipality = OX, **kw: object) -> Simulation:
    return Simulation(config, start=kw.pop("start", START), **kw)  # type: ignore[arg-type]


async def report(sim: Simulation, party: str = "s", **kw: object) -> None:
    await sim.report(kind="threat", severity=kw.pop("severity", "serious"), party=party, **kw)


def of(trail: list[ev.Event], cls: type[ev.Event]) -> list[ev.Event]:
    return [e for e in trail if isinstance(e, cls)]


async def test_an_sms_answer_goes_through_the_reply_code_at_the_scripted_time() -> None:
    async with sim_of() as sim:
        sim.person("per").answers_after("12m", via="sms")
        await report(sim)
        await sim.advance("1h")
        trail = await sim.trail()
    acks = [e for e in of(trail, ev.Acknowledged) if isinstance(e, ev.Acknowledged) and e.step == "3.1.1"]
    assert [(a.person, a.via, a.at - sim.incident.reported_at) for a in acks] == [("per", "sms", minutes(12))]
    assert not [e for e in of(trail, ev.Escalated) if isinstance(e, ev.Escalated) and e.step == "3.1.1"]
    # The answer was the reply code the SMS carried, like a real reply.
    first = sim.messages(person="per", medium="sms", step="3.1.1")[0]
    assert first.reply_code is not None


async def test_an_email_answer_follows_the_signed_link() -> None:
    async with sim_of() as sim:
        sim.person("per").answers_after("1m", via="email")
        await report(sim)
        await sim.advance("1h")
        trail = await sim.trail()
    ack = next(e for e in of(trail, ev.Acknowledged) if isinstance(e, ev.Acknowledged) and e.step == "3.1.1")
    assert ack.via == "email"
    assert ack.nonce  # a link token was spent
    # Per's e-mail comes 15 minutes in (SMS, then voice after 5m, then e-mail after 10m more).
    assert ack.at - sim.incident.reported_at == minutes(16)


async def test_a_voice_answer_is_a_keypress_on_the_call() -> None:
    async with sim_of() as sim:
        sim.person("per").answers_after("30s", via="voice")
        await report(sim)
        await sim.advance("30m")
        trail = await sim.trail()
    ack = next(e for e in of(trail, ev.Acknowledged) if isinstance(e, ev.Acknowledged) and e.step == "3.1.1")
    assert (ack.via, ack.at - sim.incident.reported_at) == ("voice", minutes(5.5))


async def test_a_decline_moves_the_step_on_at_once() -> None:
    async with sim_of() as sim:
        sim.person("per").declines_after("2m")
        await report(sim)
        await sim.advance("5m")
    escalations = sim.timeline.where("escalated", step="3.1.1")
    assert [(format_offset(e.offset), e.role) for e in escalations] == [("t+02:00", "party_group_leader")]
    assert sim.timeline.where("declined", step="3.1.1", person="per")


async def test_an_unreachable_medium_fails_permanently_and_the_next_contact_point_follows_at_once() -> None:
    async with sim_of() as sim:
        sim.person("per").unreachable("sms")
        await report(sim)
        await sim.advance("1m")
    failed = sim.timeline.where("delivery_failed", person="per")
    assert {e.medium for e in failed} == {"sms"}
    calls = sim.timeline.where("message", person="per")
    assert {(e.medium, format_offset(e.offset)) for e in calls} == {("voice", "t+00:00")}


async def test_an_away_person_sees_messages_when_the_window_ends() -> None:
    async with sim_of() as sim:  # reported 21:30 local; Per is away 18:00-08:00 and answers 3 minutes after
        sim.person("per").away(between=("18:00", "08:00")).answers_after("3m")
        sim.person("anna").never_answers()
        await report(sim)
        await sim.run_until_quiet("12h")
    ack = sim.timeline.where("acknowledged", step="3.1.1")[0]
    assert ack.at.astimezone(sim.zone).strftime("%H:%M") == "08:03"
    assert ack.person == "per"


def test_seen_at_follows_touching_windows_and_midnight() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Stockholm")
    script = PersonScript("x").away(between=("22:00", "02:00")).away(between=("02:00", "06:30"))
    seen = script.seen_at(datetime(2026, 3, 12, 22, 30, tzinfo=zone).astimezone(UTC), zone)
    assert seen is not None
    assert seen.astimezone(zone) == datetime(2026, 3, 13, 6, 30, tzinfo=zone)
    assert PersonScript("y").away().seen_at(datetime(2026, 3, 12, tzinfo=UTC), zone) is None


async def test_acknowledges_then_goes_silent_shows_the_done_within_reminders() -> None:
    muni = municipality(step("1", "municipal_ceo", deadlines=Deadlines(minutes(15), timedelta(hours=1))))
    async with sim_of(muni) as sim:
        sim.person("jan").acknowledges_then_goes_silent("2m")
        await sim.report(kind="threat", severity="serious", party="s")
        await sim.run_until_quiet("1d")
    overdue = sim.timeline.where("overdue", step="1")
    assert [format_offset(e.offset) for e in overdue] == ["t+1h02:00", "t+2h02:00", "t+3h02:00"]
    assert sim.timeline.where("message", person="jan")[-1].kind == "reminder"


async def test_completes_after_ticks_the_checklist_and_starts_the_next_step() -> None:
    async with sim_of() as sim:
        sim.everyone().answers_after("5m").completes_after("20m")
        await report(sim, facts={"strategist_needed": True, "needs_healthcare": False})
        await sim.advance("40m")
    done = sim.timeline.where("completed", step="3.1.1")
    assert [(format_offset(e.offset), e.person) for e in done] == [("t+25:00", "per")]
    assert [format_offset(e.offset) for e in sim.timeline.where("activated", step="3.1.2")] == ["t+25:00"]
    assert {e.detail for e in sim.timeline.where("checked", step="3.2.1")} == {"initial_support", "support_person"}


async def test_an_answer_after_someone_else_took_the_step_has_no_effect_and_says_so() -> None:
    async with sim_of() as sim:
        sim.person("per").answers_after("20m")  # the SMS at t+0: answers at t+20, after Anna took it at t+16
        sim.person("anna").answers_after("1m", steps=["3.1.1"])
        await report(sim)
        await sim.advance("30m")
    late = sim.timeline.where("no_effect", step="3.1.1", person="per")
    assert [format_offset(e.offset) for e in late] == ["t+20:00"]
    assert [e.person for e in sim.timeline.where("acknowledged", step="3.1.1")] == ["anna"]


async def test_run_until_quiet_stops_when_nothing_is_due() -> None:
    async with sim_of() as sim:
        await report(sim, party="m")
        ended = await sim.run_until_quiet("3d")
    # Nobody answers: every escalation runs out; the last one, 3.2.2b's second round, ends after 2 hours.
    assert ended - sim.incident.reported_at < timedelta(days=1)
    assert sim.timeline.where("exhausted", step="3.1.1")


async def test_scheduled_actions_run_at_their_time() -> None:
    async with sim_of() as sim:

        async def decide(s: Simulation) -> None:
            await s.record_fact("strategist_needed", False)

        sim.at("20m", decide)
        await report(sim)
        await sim.advance("1h")
    fact = sim.timeline.where("fact")
    assert [(format_offset(e.offset), e.detail) for e in fact] == [("t+20:00", "strategist_needed=false")]


def test_the_timeline_text_shows_offsets_steps_roles_people_and_media() -> None:
    with SyncSimulation(OX, start=START) as sim:
        sim.person("per").never_answers()
        sim.person("anna").answers_after("12m", via="sms")
        sim.report(kind="threat", severity="serious", party="s", targeted="lena")
        sim.advance("2h")
        text = sim.timeline.text()
        english = sim.timeline.text("en")
    lines = text.splitlines()
    assert lines[0].startswith("t+00:00")
    assert any(line.split()[:3] == ["t+27:00", "Kvitterat", "3.1.1"] and "Anna Sjöberg" in line for line in lines)
    assert any(line.startswith("t+1h") for line in lines)
    assert "Gruppledare" in text
    assert "Acknowledged" in english
    assert "Party group leader" in english
    # The targeted person has protected identity: never named in the timeline.
    assert "Lena" not in text


def test_format_offset() -> None:
    assert format_offset(timedelta(minutes=7, seconds=5)) == "t+07:05"
    assert format_offset(timedelta(hours=1, minutes=5)) == "t+1h05:00"
    assert format_offset(timedelta(hours=26)) == "t+26h00:00"
    assert format_offset(-timedelta(minutes=1)) == "t-01:00"


async def test_assert_helpers_pass_and_fail_with_the_timeline() -> None:
    async with sim_of() as sim:
        sim.person("per").never_answers()
        sim.person("anna").answers_after("12m", via="sms")
        await report(sim)
        await sim.advance("1h")
    sim.assert_acknowledged("3.1.1", by_role="party_group_leader", within="30m")
    sim.assert_escalated("3.1.1")
    sim.assert_exhausted("3.1.1", expected=False)
    sim.assert_not_contacted(role="municipal_ceo")
    sim.assert_contacted(person="per", medium="voice", within="5m")
    sim.assert_messages(person="anna", kind="escalation", at_least=2)
    sim.assert_protected_not_named()
    with pytest.raises(SimulationAssertionError) as failure:
        sim.assert_acknowledged("3.1.1", by_role="party_group_leader", within="20m")
    message = str(failure.value)
    assert "förväntat: 3.1.1 kvitteras av Gruppledare senast t+20:00" in message
    assert "t+27:00 av Anna Sjöberg (Gruppledare), 7m för sent" in message
    assert "tidslinjen hittills" in message
    assert "t+15:00  Eskalerat" in message
    with pytest.raises(SimulationAssertionError, match="exakt 3 meddelanden till Per Exempelsson"):
        sim.assert_messages(person="per", count=3)


async def test_english_failure_messages() -> None:
    async with sim_of(lang="en") as sim:
        await report(sim, party="m")
        await sim.advance("10m")
    with pytest.raises(SimulationAssertionError) as failure:
        sim.assert_acknowledged("3.1.1", within="5m")
    assert "expected: 3.1.1 is acknowledged by t+05:00" in str(failure.value)
    assert "instead:  3.1.1 was never acknowledged: started t+00:00" in str(failure.value)


def test_unknown_people_and_bad_times_are_clear_errors() -> None:
    sim = Simulation(OX)
    with pytest.raises(SimulationError, match=r"no person 'pelle'.*known: ali, anna"):
        sim.person("pelle")
    with pytest.raises(SimulationError, match="HH:MM"):
        sim.person("per").away(between=("sex", "08:00"))
    with pytest.raises(SimulationError, match="not a start time"):
        Simulation(OX, start="i morgon")


async def test_the_configured_channels_are_replaced_by_recorders_of_the_same_medium() -> None:
    async with sim_of() as sim:
        await report(sim)
        await sim.advance("20m")
    assert set(sim.channels) == {"sms", "voice", "email"}
    assert {m.medium for m in sim.channels["voice"].sent} == {"voice"}
    assert len(sim.sent) == sum(len(c.sent) for c in sim.channels.values())
