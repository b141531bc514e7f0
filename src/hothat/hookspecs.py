"""The hooks a hothat plugin can implement: the plugin author's first read.

A plugin is a module (or object) with functions marked ``@hothat.hookimpl`` and named after the hooks below.
Publish it through the ``hothat`` entry-point group::

    # pyproject.toml of your distribution, named hothat-<something>
    [project.entry-points.hothat]
    mychannel = "hothat_mychannel"

    # hothat_mychannel/__init__.py
    import hothat

    @hothat.hookimpl
    def hothat_register_channels():
        return [MyChannel]

Rules every hook follows:

- Hooks are synchronous and cheap. I/O happens in ``async`` methods of the objects they return (a
  :class:`~hothat.channels.Channel`'s ``deliver``), or in an awaitable an observer returns.
- An implementation may accept fewer arguments than the spec names (pluggy's rule), so hooks can grow.
- The core's own behaviour is registered through this same mechanism, marked ``trylast``: a plugin overrides a
  decision hook simply by answering first.
- ``async def`` implementations are refused at registration for every hook but ``hothat_incident_event``
  (there, return an awaitable instead: see its docs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from hothat.channels import Channel
    from hothat.domain import Directory, Incident, Resolution, Role, Routine
    from hothat.engine.events import Event
    from hothat.messages.templates import RenderContext, Rendered

__all__ = [
    "hothat_incident_event",
    "hothat_register_channels",
    "hothat_register_routines",
    "hothat_render_message",
    "hothat_resolve_role",
]

_spec = pluggy.HookspecMarker("hothat")


# ---------------------------------------------------------------------------------------------------------------
# Registration hooks (broadcast: every implementation is called and the results are collected)
# ---------------------------------------------------------------------------------------------------------------


@_spec
def hothat_register_channels() -> Sequence[type[Channel]]:
    """Return the channel classes this plugin provides.

    Each class subclasses :class:`hothat.channels.Channel` and has a unique ``name`` such as ``"sms.46elks"``.
    The engine instantiates a class for each ``[channels.NAME]`` table whose ``plugin`` names it. Two plugins
    providing the same name is an error (``PluginError``) naming both.

    Broadcast: every implementation is called.
    """
    raise NotImplementedError


@_spec
def hothat_register_routines() -> Sequence[Routine]:
    """Return model routines this plugin contributes (for example a national template routine).

    A municipality file can run one by naming its id; the file's own routines win on an id clash.

    Broadcast: every implementation is called.
    """
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------------------------
# Decision hooks (firstresult: stops at the first non-None result)
# ---------------------------------------------------------------------------------------------------------------


@_spec(firstresult=True)
def hothat_resolve_role(role: Role, incident: Incident, directory: Directory, at: datetime) -> Resolution | None:
    """Say who holds ``role`` for ``incident`` right now.

    An intranet can answer from its own HR or LDAP directory; return ``None`` to let the next implementation
    (finally the builtin, which reads the municipality file and follows fallbacks and availability) answer.
    Return a :class:`hothat.domain.Resolution`; an empty ``people`` means nobody, and the engine records
    ``RoleUnresolved`` and tells the routine's ``unresolved_to`` role: a step is never dropped.

    Must be fast and must not do network I/O on the event loop; cache your directory.

    Stops at first non-None result.
    """
    raise NotImplementedError


@_spec(firstresult=True)
def hothat_render_message(context: RenderContext) -> Rendered | None:
    """Render one outbound message from ``context`` (medium, locale, disclosure level, message kind).

    Return a :class:`hothat.messages.Rendered` to replace the builtin Swedish/English templates, or ``None``
    to let them render. Whatever you return, respect ``context.disclosure`` and never name a person whose
    ``Actor.protected`` is set: the engine checks rendered text for protected names and replaces a message
    that names one with the builtin rendering (recording that it did).

    Stops at first non-None result.
    """
    raise NotImplementedError


# ---------------------------------------------------------------------------------------------------------------
# Observer hooks (broadcast)
# ---------------------------------------------------------------------------------------------------------------


@_spec
def hothat_incident_event(
    event: Event, incident: Incident, version: int
) -> Awaitable[None] | Callable[[], object] | None:
    """Observe every event after it is stored: forward the trail to a case system, a diarium, metrics.

    ``incident`` is the incident as it stands after the event. Return ``None``, an awaitable, or a
    zero-argument callable (called, and awaited if it returns an awaitable). The engine awaits each result
    with a time limit (``observer_timeout``, 5 s by default), concurrently; a failing or slow observer is
    logged and never delays or stops an escalation. Events reach observers at least once: after a crash, the
    events of the last commit may be observed again, so make your observer idempotent on
    ``(incident.id, version)``: ``version`` is the event's 1-based position in the incident's trail.

    Broadcast: every implementation is called.
    """
    raise NotImplementedError
