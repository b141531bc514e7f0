"""Load with faults: 150 Oxelösund incidents reported at once, on a SQLite file, paging by SMS over HTTP to a gateway
that fails 5 % of requests with a 5xx, holds 2 % past the read timeout and drops 1 % after taking the message.

Every incident must end with a human acknowledgement (a seeded 80 % answer by SMS reply code, through the signed
46elks callback and ``engine.inbound``) or an explicit ``EscalationExhausted``. Every trail is then read back from
the file: each queued message has exactly one outcome, every step is settled, the outbox is empty, and no message
was taken twice by the gateway (a message the engine recorded as possibly sent is counted, never resent).

The 1,000-incident version is ``python -m benchmarks.soak`` (``make bench``). Run with ``-s`` to see the report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("hothat_sms", reason="the load test pages through the hothat-sms plugin")

from reliability_kit import run_load

INCIDENTS = 150


async def test_150_incidents_with_gateway_faults_all_end_and_no_event_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)  # the faults log a warning each; keep the captured log small
    # synchronous=NORMAL: this test checks what the trail holds after a clean stop, not power-loss durability
    # (test_store_sqlite.py does that), and FULL's fsync per commit would double the run time.
    report = await run_load(
        tmp_path / "hothat.db", incidents=INCIDENTS, synchronous="NORMAL", answer_share=0.8, wall_limit=240
    )
    text = report.text()
    (tmp_path / "load-report.txt").write_text(text, encoding="utf-8")
    print("\n" + text)
    assert report.problems == [], text
    assert report.duplicates == 0, text
    # Every incident ended, one way or the other, and the faults really happened.
    assert report.acknowledged_incidents == report.answering, text
    assert report.exhausted_incidents >= report.incidents - report.answering, text
    assert report.injected["5xx"] > 0, text
    assert report.injected["timeout"] + report.injected["drop"] > 0, text
    assert report.retries >= report.injected["5xx"], text  # each 5xx came back to the engine as a retry
    assert report.ambiguous_taken > 0, text  # possibly sent, really taken by the gateway, and never resent
    assert report.stalls == 0, text
