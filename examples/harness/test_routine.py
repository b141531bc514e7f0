"""Oxelösund's routine, as the security strategist expects it to work.

Each test reports an incident on a virtual clock, scripts how people answer, and checks what happened.
Run with ``pytest`` in this folder; a failure prints what was expected, what happened instead, and the timeline.
"""


def test_the_party_security_contact_is_asked_first_by_sms(hothat_sim):
    hothat_sim.report(kind="threat", severity="serious", party="s")

    hothat_sim.assert_contacted(person="per", medium="sms", within="0s")
    hothat_sim.assert_not_contacted(role="municipal_ceo")


def test_the_group_leader_takes_over_when_the_security_contact_is_silent(hothat_sim):
    hothat_sim.person("per").never_answers()
    hothat_sim.person("anna").answers_after("12m", via="sms")

    hothat_sim.report(kind="threat", severity="serious", party="s")
    hothat_sim.advance("1h")

    hothat_sim.assert_acknowledged("3.1.1", by_role="party_group_leader", within="30m")
    hothat_sim.assert_exhausted("3.1.1", expected=False)


def test_a_party_without_security_contact_reaches_its_group_leader(hothat_sim):
    hothat_sim.person("olle").answers_after("3m")

    hothat_sim.report(kind="harassment", severity="threat", party="c")
    hothat_sim.advance("10m")

    hothat_sim.assert_acknowledged("3.1.1", by_person="olle", within="5m")


def test_the_ceo_files_a_police_report_only_when_the_targeted_person_wants_one(hothat_sim):
    hothat_sim.everyone().answers_after("5m").completes_after("10m")

    hothat_sim.report(
        kind="threat", severity="serious", party="m", facts={"strategist_needed": True, "needs_healthcare": False}
    )
    hothat_sim.advance("2h")
    hothat_sim.assert_not_contacted(role="municipal_ceo")

    hothat_sim.record_fact("police_report_wanted", True)
    hothat_sim.advance("30m")
    hothat_sim.assert_acknowledged("3.1.3", by_person="eva", within="2h30m")
    hothat_sim.assert_not_contacted(person="johan")  # the deputy only if the CEO does not answer


def test_when_nobody_answers_the_strategists_are_told_and_it_is_recorded(hothat_sim):
    hothat_sim.report(kind="violence", severity="acute", party="s")
    hothat_sim.run_until_quiet("6h")

    hothat_sim.assert_contacted(role="municipal_security_strategist", within="10m")
    hothat_sim.assert_exhausted("3.1.1")
    hothat_sim.assert_messages(role="municipal_ceo", count=0)


def test_a_targeted_person_with_protected_identity_is_never_named(hothat_sim):
    hothat_sim.everyone().answers_after("5m").completes_after("15m")

    hothat_sim.report(
        kind="threat",
        severity="serious",
        party="s",
        targeted="lena",
        facts={"strategist_needed": True, "needs_healthcare": False, "police_report_wanted": True},
    )
    hothat_sim.run_until_quiet("1d")

    hothat_sim.assert_protected_not_named()
    hothat_sim.assert_not_contacted(person="lena")
