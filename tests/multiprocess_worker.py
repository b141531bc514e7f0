"""One engine process of the multi-process test (``test_multiprocess_postgres.py``) and of the PostgreSQL benchmark.

    python tests/multiprocess_worker.py DSN PORT NAME COUNT

Runs an :class:`~hothat.Engine` on the real clock with a :class:`~hothat.store.postgres.PostgresStore` on ``DSN``,
reports ``COUNT`` incidents (references ``NAME-0000`` ...), prints ``reported`` and keeps running until SIGTERM,
then stops the engine and exits 0. Its only channel tells the listener on ``127.0.0.1:PORT`` about every delivery
attempt (one JSON line: process id, key, person, kind, incident, step) and waits for its answer: the listener is
the test's witness of who attempted what, when.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from datetime import timedelta
from typing import ClassVar

from hothat.channels import Channel, OutboundMessage, Receipt, ReceiptStatus
from hothat.domain import (
    ChannelConfig,
    ContactPoint,
    Deadlines,
    Directory,
    Medium,
    Municipality,
    Person,
    Role,
    RoleScope,
    Routine,
    Step,
    Text,
)
from hothat.engine import Engine
from hothat.errors import RetryableDeliveryError
from hothat.plugins import HothatPlugins, get_plugin_manager
from hothat.store.postgres import PostgresStore

MUNICIPALITY_ID = "flerprocess"
WAKE_LEASE = timedelta(seconds=3)  # a dead process's wake-ups are due again for the others after this


def municipality() -> Municipality:
    """One step: Olle owns it and has 2 s to take it, then it escalates to Berit; Sven hears when nobody can."""
    people = {
        pid: Person(pid, name, (ContactPoint(Medium.SMS, f"+4670174060{n}"),))
        for n, (pid, name) in enumerate([("olle", "Olle Ägare"), ("berit", "Berit Reserv"), ("sven", "Sven Chef")])
    }
    roles = {
        "owner": Role("owner", RoleScope.MUNICIPALITY, "Ägare", "Owner"),
        "backup": Role("backup", RoleScope.MUNICIPALITY, "Reserv", "Backup"),
        "chief": Role("chief", RoleScope.MUNICIPALITY, "Chef", "Chief"),
    }
    step = Step(
        "1",
        Text("Ta hand om ärendet", "Take the case"),
        ("owner",),
        deadlines=Deadlines(ack_within=timedelta(seconds=2)),
        escalation=("backup",),
    )
    return Municipality(
        id=MUNICIPALITY_ID,
        name="Flerprocess kommun",
        reference_prefix="FP",
        directory=Directory(
            people=people, roles=roles, holders={"owner": ("olle",), "backup": ("berit",), "chief": ("sven",)}
        ),
        routines={"r": Routine("r", Text("Rutin", "Routine"), (step,), unresolved_to="chief")},
        default_routine="r",
        channels=(ChannelConfig("sms", "witnessed", Medium.SMS),),
    )


class WitnessedChannel(Channel):
    """Delivers by telling the test's listener, and returns once it answered."""

    name: ClassVar[str] = "witnessed"
    medium: ClassVar[Medium] = Medium.SMS

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    async def deliver(self, message: OutboundMessage) -> Receipt:
        line = {
            "pid": os.getpid(),
            "key": message.key,
            "person": message.person_id,
            "kind": str(message.kind),
            "incident": message.incident_id,
            "step": message.step_id,
        }
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            raise RetryableDeliveryError(f"the listener is not there ({exc.strerror})") from None
        try:
            writer.write(json.dumps(line).encode() + b"\n")
            await writer.drain()
            answer = await reader.readline()
        finally:
            writer.close()
        if answer.strip() != b"ok":
            raise RetryableDeliveryError("the listener did not answer")
        return Receipt(channel=self.name, address=message.address, status=ReceiptStatus.DELIVERED)


def engine(dsn: str, port: int, *, clock: object = None) -> Engine:
    """An engine of the test municipality on ``dsn``, delivering through the witnessed channel."""
    store = PostgresStore(dsn, municipality=MUNICIPALITY_ID, lease=WAKE_LEASE)
    return Engine(
        municipality(),
        store=store,
        clock=clock,  # type: ignore[arg-type]
        plugins=HothatPlugins(get_plugin_manager(load_entrypoints=False)),
        channels={"sms": WitnessedChannel(port)},
        token_secret=b"t" * 48,
        deliver_timeout=2.0,
    )


async def main(dsn: str, port: int, name: str, count: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with engine(dsn, port) as running:
        # Ten at a time, as reports from several people would come: each is its own incident.
        for start in range(0, count, 10):
            await asyncio.gather(
                *(
                    running.report(kind="threat", severity="serious", reference=f"{name}-{n:04d}")
                    for n in range(start, min(start + 10, count))
                )
            )
        print("reported", flush=True)
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format=f"[worker {sys.argv[3]} %(levelname)s] %(message)s")
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
