"""The plugin manager factory and the typed wrapper the engine calls.

``get_plugin_manager()`` builds a fresh manager in a fixed order: hook specs, the builtin plugin (through the same
``register`` path as every other plugin), blocked names from ``HOTHAT_DISABLED_PLUGINS``, an optional allowlist
from ``HOTHAT_LOAD_PLUGINS``, the ``hothat`` entry points (a plugin that fails to import is logged and skipped,
so one broken adapter never takes paging down), and ``check_pending()``.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import logging
import os
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import pluggy
import pydantic

from hothat import hookspecs
from hothat.config import channel_settings_errors as channel_settings_errors  # kept here for plugins' tests
from hothat.errors import PluginError

if TYPE_CHECKING:
    from hothat.channels import Channel
    from hothat.domain import Directory, Incident, Resolution, Role, Routine
    from hothat.engine.events import Event
    from hothat.messages.templates import RenderContext, Rendered

__all__ = ["ENTRY_POINT_GROUP", "HothatPlugins", "get_plugin_manager", "hookimpl"]

log = logging.getLogger("hothat.plugins")

ENTRY_POINT_GROUP = "hothat"
hookimpl = pluggy.HookimplMarker("hothat")
"""Mark a function as a hothat hook implementation: ``@hothat.hookimpl``."""

_ASYNC_ALLOWED = {"hothat_incident_event"}


def _split_env(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


class _Manager(pluggy.PluginManager):
    """Refuses ``async def`` implementations where the engine would get a coroutine instead of an answer."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        for attr in dir(plugin):
            refused = attr.startswith("hothat_") and attr not in _ASYNC_ALLOWED
            if refused and inspect.iscoroutinefunction(getattr(plugin, attr, None)):
                raise PluginError(
                    f"plugin {name or plugin!r}: {attr} must not be 'async def'; do I/O in the objects it returns"
                )
        try:
            return super().register(plugin, name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name or plugin!r} is invalid: {exc}") from exc


def get_plugin_manager(
    *,
    load_entrypoints: bool = True,
    disabled: Iterable[str] | None = None,
    only: Iterable[str] | None = None,
    plugins: Iterable[object] = (),
) -> pluggy.PluginManager:
    """Build a plugin manager for one engine.

    Args:
        load_entrypoints: load plugins from the ``hothat`` entry-point group.
        disabled: plugin names to block; defaults to ``HOTHAT_DISABLED_PLUGINS`` (comma separated).
        only: if given, load only these entry points; defaults to ``HOTHAT_LOAD_PLUGINS`` when it is set.
        plugins: extra plugin objects to register (tests, an intranet's own resolver).
    """
    from hothat import _builtins

    pm = _Manager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    pm.register(_builtins, name="hothat.builtins")
    blocked = set(disabled) if disabled is not None else _split_env(os.environ.get("HOTHAT_DISABLED_PLUGINS"))
    for name in blocked:
        pm.set_blocked(name)
    allow = set(only) if only is not None else _split_env(os.environ.get("HOTHAT_LOAD_PLUGINS")) or None
    if load_entrypoints:
        _load_entrypoints(pm, allow)
    for plugin in plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements a hook that does not exist: {exc}") from exc
    return pm


def _load_entrypoints(pm: pluggy.PluginManager, allow: set[str] | None) -> None:
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP:
                continue
            if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
                continue
            if allow is not None and ep.name not in allow:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken adapter must not take paging down
                log.warning(
                    "plugin %r from %s could not be loaded and is skipped: %s: %s",
                    ep.name,
                    dist.metadata["Name"],
                    type(exc).__name__,
                    exc,
                )
                continue
            pm.register(plugin, name=ep.name)
            log.debug("loaded plugin %r from %s", ep.name, dist.metadata["Name"])


class HothatPlugins:
    """A typed face on the hook relay: the engine calls only these methods.

    Args:
        pm: a manager from :func:`get_plugin_manager`.
        observer_timeout: seconds an observer's awaitable may take before it is abandoned and logged.
    """

    def __init__(self, pm: pluggy.PluginManager, *, observer_timeout: float = 5.0) -> None:
        self.pm = pm
        self.observer_timeout = observer_timeout

    def channels(self) -> dict[str, type[Channel]]:
        """Every registered channel class by name; a name provided twice is a ``PluginError``."""
        from hothat.channels import Channel

        found: dict[str, type[Channel]] = {}
        owners: dict[str, str] = {}
        for impl in self.pm.hook.hothat_register_channels.get_hookimpls():
            provided: Any = impl.function() or ()
            if isinstance(provided, type):
                provided = [provided]
            for cls in provided:
                if not (isinstance(cls, type) and issubclass(cls, Channel)):
                    raise PluginError(f"plugin {impl.plugin_name!r} registered {cls!r}, which is not a Channel")
                name = getattr(cls, "name", None)
                if not name:
                    raise PluginError(f"plugin {impl.plugin_name!r}: channel class {cls.__name__} has no name")
                if name in found and found[name] is not cls:
                    raise PluginError(
                        f"channel name {name!r} is provided by both {owners[name]!r} and {impl.plugin_name!r}; "
                        "disable one with HOTHAT_DISABLED_PLUGINS"
                    )
                found[name] = cls
                owners[name] = impl.plugin_name
        return found

    def routines(self) -> list[Routine]:
        """Every routine contributed by plugins."""
        out: list[Routine] = []
        for provided in self.pm.hook.hothat_register_routines():
            out.extend(provided or ())
        return out

    def resolve_role(self, *, role: Role, incident: Incident, directory: Directory, at: datetime) -> Resolution:
        """Who holds ``role`` now (the first plugin that answers wins; the builtin always answers)."""
        result = self.pm.hook.hothat_resolve_role(role=role, incident=incident, directory=directory, at=at)
        return cast("Resolution", result)

    def render_message(self, *, context: RenderContext) -> Rendered:
        """Render one message (the first plugin that answers wins; the builtin templates always answer)."""
        result = self.pm.hook.hothat_render_message(context=context)
        return cast("Rendered", result)

    async def incident_event(self, *, event: Event, incident: Incident, version: int = 0) -> None:
        """Tell every observer; await what they return, concurrently and with a time limit. Never raises."""
        # Each observer is called on its own, so one that raises cannot hide the others' results.
        arguments = {"event": event, "incident": incident, "version": version}
        pending: list[Awaitable[Any]] = []
        for impl in reversed(self.pm.hook.hothat_incident_event.get_hookimpls()):
            try:
                result = impl.function(*(arguments[name] for name in impl.argnames))
                if callable(result) and not inspect.isawaitable(result):
                    result = result()
                if inspect.isawaitable(result):
                    pending.append(result)
            except Exception:
                log.exception("incident observer %r raised; the escalation goes on", impl.plugin_name)
        if not pending:
            return

        async def guarded(awaitable: Awaitable[Any]) -> None:
            try:
                await asyncio.wait_for(awaitable, self.observer_timeout)
            except TimeoutError:
                log.warning("an incident observer took more than %.1f s and was abandoned", self.observer_timeout)
            except Exception:
                log.exception("an incident observer failed; the escalation goes on")

        await asyncio.gather(*(guarded(a) for a in pending))


def validation_problems(exc: pydantic.ValidationError) -> list[tuple[str, str]]:
    """A settings validation error as ``(field path, message)`` pairs, never echoing the input."""
    return [
        (".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors(include_url=False, include_input=False)
    ]
