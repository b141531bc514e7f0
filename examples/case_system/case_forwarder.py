"""Forward every incident's trail to the municipality's case system: a ``hothat_incident_event`` observer.

Incidents are public records (allmänna handlingar) that belong in the municipality's own case system or
diarium; hothat should feed it, not become a shadow archive. This observer posts each event of the trail, as it is
stored, to the case system's HTTP API:

- **Only what the case system may hold.** Fields are copied from an allowlist: ids, steps, roles, times, statuses,
  facts. Never the description, the targeted person, the party, a note, a reason or a contact address: free text
  stays in hothat, and the case system's own registration decides what is recorded about the event itself.
- **Idempotent.** Events reach observers at least once (after a crash the last commit may be observed again). Each
  event gets a key, ``<incident id>:<digest of the stored event>``, sent as ``Idempotency-Key``; the forwarder also
  remembers the keys it delivered and never posts one twice.
- **Never in the way.** The engine awaits an observer with a time limit and logs a failure; it never delays an
  escalation. An event the case system did not take (down, 5xx) is kept, in order, and sent before the next one.

Register it::

    forwarder = CaseForwarder(httpx.AsyncClient(base_url="https://arende.kommun.example/api", timeout=3))
    plugins = HothatPlugins(get_plugin_manager(plugins=[forwarder]))
    engine = Engine.from_config("municipality.toml", plugins=plugins)
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import attrs
import httpx

from hothat import Incident, hookimpl
from hothat.engine import events as ev

__all__ = ["ALLOWED_FIELDS", "CaseForwarder", "event_key", "payload"]

log = logging.getLogger("case_forwarder")

# --8<-- [start:allowlist]
ALLOWED_FIELDS = frozenset(
    {
        # which step, role and person (ids from the municipality file, never names or addresses)
        "step", "role", "person", "people", "via", "unavailable", "by", "item", "purpose",
        # how the escalation went
        "slot", "level", "round", "from_level", "to_level", "node", "outcome", "count",
        # deliveries: the message key, medium, channel and outcome, never the text or the address
        "key", "kind", "medium", "channel", "status", "failure", "segments",
        # decided facts and the watchdog
        "fact", "value", "due_at", "overdue_seconds",
    }
)  # fmt: skip
INCIDENT_FIELDS = ("id", "reference", "kind", "severity", "routine", "mandate_link", "location_kind", "status")
# --8<-- [end:allowlist]


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def event_key(event: ev.Event, incident: Incident) -> str:
    """A key that is the same each time the same stored event is observed."""
    tag, body = ev.encode(event)
    digest = hashlib.sha256(tag.encode() + b"\n" + body.encode()).hexdigest()
    return f"{incident.id}:{digest[:24]}"


# --8<-- [start:payload]
def payload(event: ev.Event, incident: Incident) -> dict[str, Any]:
    """What the case system receives for one event: allowlisted fields only."""
    fields = {
        f.name: _plain(getattr(event, f.name))
        for f in attrs.fields(type(event))
        if f.name in ALLOWED_FIELDS and getattr(event, f.name) is not None
    }
    return {
        "key": event_key(event, incident),
        "type": type(event).__name__,
        "at": event.at.isoformat(),
        "incident": {name: _plain(getattr(incident, name)) for name in INCIDENT_FIELDS},
        "event": fields,
    }


# --8<-- [end:payload]


class CaseForwarder:
    """Posts each event of every incident to ``POST /cases/{reference}/events``.

    Args:
        client: an ``httpx.AsyncClient`` with the case system's ``base_url`` (and its authentication).
        remember: how many delivered keys to remember, to drop events observed twice.
        max_pending: how many events to keep while the case system is down; the oldest are dropped (and logged)
            beyond it.
    """

    def __init__(self, client: httpx.AsyncClient, *, remember: int = 100_000, max_pending: int = 10_000) -> None:
        self.client = client
        self.remember = remember
        self.max_pending = max_pending
        self.delivered: OrderedDict[str, None] = OrderedDict()
        self.pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = asyncio.Lock()

    # --8<-- [start:hook]
    @hookimpl
    def hothat_incident_event(self, event: ev.Event, incident: Incident) -> Awaitable[None] | None:
        """Queue the event and return the work of sending it, for the engine to await with its time limit."""
        if isinstance(event, ev.OptOutChanged):  # a phone number's STOP/START: not part of any case
            return None
        body = payload(event, incident)
        if body["key"] in self.delivered or body["key"] in self.pending:
            return None
        self.pending[body["key"]] = body
        while len(self.pending) > self.max_pending:
            dropped, _ = self.pending.popitem(last=False)
            log.error("case system backlog full: event %s dropped; reconcile from hothat's trail", dropped)
        return self.flush()

    # --8<-- [end:hook]

    async def flush(self) -> None:
        """Send every pending event, oldest first; stop at the first the case system does not take."""
        async with self._lock:
            while self.pending:
                key, body = next(iter(self.pending.items()))
                reference = body["incident"]["reference"]
                try:
                    response = await self.client.post(
                        f"/cases/{reference}/events", json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError as exc:
                    log.warning("case system unreachable (%s); %d event(s) wait", type(exc).__name__, len(self.pending))
                    return
                if response.status_code >= 500 or response.status_code == 429:
                    log.warning("case system answered %d; %d event(s) wait", response.status_code, len(self.pending))
                    return
                del self.pending[key]
                if response.status_code >= 400:  # our request is wrong: retrying will not help
                    log.error("case system refused event %s with %d", key, response.status_code)
                    continue
                self.delivered[key] = None
                while len(self.delivered) > self.remember:
                    self.delivered.popitem(last=False)
