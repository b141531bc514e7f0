"""The core's own hook implementations, registered like any plugin and marked ``trylast``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from hothat.plugins import hookimpl

if TYPE_CHECKING:
    from hothat.channels import Channel
    from hothat.domain import Directory, Incident, Resolution, Role
    from hothat.messages.templates import RenderContext, Rendered


@hookimpl(trylast=True)
def hothat_register_channels() -> Sequence[type[Channel]]:
    from hothat.channels import LogChannel, MemoryChannel

    return [LogChannel, MemoryChannel]


@hookimpl(trylast=True)
def hothat_resolve_role(role: Role, incident: Incident, directory: Directory, at: datetime) -> Resolution:
    return directory.resolve(role.id, incident.party, at=at, incident_holders=incident.holders)


@hookimpl(trylast=True)
def hothat_render_message(context: RenderContext) -> Rendered:
    from hothat.messages.templates import render

    return render(context)
