"""Check each ``[channels.NAME]`` table with the settings model of the plugin that provides its channel.

The plugin is looked up among the installed channels (``HothatPlugins.channels()``); its ``Settings`` model
validates the rest of the table, reading every secret it names (``x_env``, ``x_file``) on the way. Problems come
back in the form of every other configuration problem: a path in the file (``channels.sms.providers[0].sender``)
and what to do. An unset variable or a missing secret file may be lowered to a warning, for a file checked on a
machine that does not hold the secrets.

:func:`channel_settings` is the same check for the engine, which builds its channels from the result.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, Literal

import attrs
import pluggy
import pydantic

from hothat._secrets import SECRET_MISSING, SecretReading, secret_context
from hothat._text import quoted
from hothat.config._errors import Path, did_you_mean, drop_misspelled, render_path, translate
from hothat.errors import ConfigProblem, ConfigurationError

if TYPE_CHECKING:
    from hothat.channels import Channel, ChannelSettings
    from hothat.domain.municipality import Municipality
    from hothat.plugins import HothatPlugins

__all__ = [
    "ChannelCheck",
    "MissingSecrets",
    "channel_classes",
    "channel_settings",
    "channel_settings_errors",
    "check_channel",
    "source_folder",
]

log = logging.getLogger("hothat.config")

MissingSecrets = Literal["error", "warn"]
"""What an unset ``x_env`` variable or a missing ``x_file`` is: a problem (``"error"``) or a warning."""

# The first-party distributions and the channel each provides, by the medium a plugin name starts with.
_PACKAGES = {
    "sms": ("hothat-sms", "sms"),
    "voice": ("hothat-phonetree", "voice"),
    "email": ("hothat-email", "email.smtp"),
}


def source_folder(source: str) -> FsPath:
    """The folder a municipality file's relative paths start in: its own, or the current one for a text."""
    if source.startswith("<") or source.endswith("(built in)"):
        return FsPath.cwd()
    return FsPath(source).absolute().parent


def channel_classes(plugins: HothatPlugins | pluggy.PluginManager | None = None) -> dict[str, type[Channel]]:
    """The installed channel classes by name: from ``plugins``, or from a manager with the entry points loaded."""
    from hothat.plugins import HothatPlugins, get_plugin_manager

    if plugins is None:
        plugins = get_plugin_manager()
    if isinstance(plugins, pluggy.PluginManager):
        plugins = HothatPlugins(plugins)
    return plugins.channels()


def _unknown_plugin(plugin: str, installed: Collection[str]) -> str:
    names = sorted(installed)
    listing = f"The installed channels are: {', '.join(names)}." if names else "No channel is installed."
    medium = plugin.split(".", 1)[0]
    package, provided = _PACKAGES.get(medium, ("", ""))
    if package and provided not in installed:
        which = "" if provided == plugin else f', whose channel is "{provided}"'
        return (
            f"no installed plugin provides {quoted(plugin)}: {medium} channels come with {package}{which}; "
            f"install it with: pip install {package}. {listing}"
        )
    hint = did_you_mean(plugin, names) or (f'; did you mean "{medium}"?' if medium in installed else "")
    if hint:
        return f"no installed plugin provides {quoted(plugin)}{hint} {listing}"
    # No guessed "pip install hothat-<name>": a made-up package name is how typosquatted packages get installed.
    return (
        f"no installed plugin provides {quoted(plugin)}. {listing} Install the package that provides it "
        "(pip install PACKAGE), or check the name."
    )


def _where(table: Any, key: str, given: str, at: Path = ()) -> list[Path]:
    """Every place in a raw table where ``key = given`` is written."""
    found: list[Path] = []
    if isinstance(table, Mapping):
        if table.get(key) == given:
            found.append((*at, key))
        for name, value in table.items():
            found += _where(value, key, given, (*at, name))
    elif isinstance(table, list | tuple):
        for index, value in enumerate(table):
            found += _where(value, key, given, (*at, index))
    return found


@attrs.frozen
class ChannelCheck:
    """What checking one channel table found: the settings (when valid), its problems and its warnings.

    Problems and warnings are ``(path, message)`` with paths from the top of the file (``("channels", "sms",
    "providers", 0, "sender")``).
    """

    settings: ChannelSettings | None
    problems: tuple[tuple[Path, str], ...] = ()
    warnings: tuple[tuple[Path, str], ...] = ()


def check_channel(
    name: str,
    plugin: str,
    table: Mapping[str, Any],
    available: Mapping[str, type[Channel]],
    *,
    base_dir: FsPath | None = None,
    missing_secrets: MissingSecrets = "error",
) -> ChannelCheck:
    """Check the table of channel ``name`` (without ``plugin``, ``medium``, ``disclosure``) with its plugin's model."""
    at: Path = ("channels", name)
    cls = available.get(plugin)
    if cls is None:
        return ChannelCheck(None, (((*at, "plugin"), _unknown_plugin(plugin, available)),))
    reading = SecretReading(base_dir=base_dir, warnings=[])
    problems: list[tuple[Path, str]] = []
    warnings: list[tuple[Path, str]] = []
    settings: ChannelSettings | None = None
    try:
        settings = cls.Settings.model_validate(dict(table), context=secret_context(reading))
    except pydantic.ValidationError as exc:
        for error in drop_misspelled(exc.errors(include_url=False)):
            path, message = translate(error, cls.Settings)
            lowered = error["type"] == SECRET_MISSING and missing_secrets == "warn"
            (warnings if lowered else problems).append(((*at, *path), message))
    except Exception as exc:  # a plugin's own validator broke: say so, never crash the check of the file
        problems.append((at, f"the {plugin} plugin failed to check this table ({type(exc).__name__}): report it"))
    for key, given, message in reading.warnings or ():
        for path in _where(table, key, given) or [(key,)]:
            warnings.append(((*at, *path), message))
    return ChannelCheck(settings, tuple(problems), tuple(warnings))


def channel_settings_errors(cls: type[Channel], table: Mapping[str, Any]) -> list[str]:
    """Validate a ``[channels.NAME]`` table against a channel class's settings; return readable problems.

    Each is ``"path: what to do"``, the path inside the table (``providers[0].sender``), worded as
    ``hothat validate`` words it; secrets are read as there (relative ``x_file`` paths from the current folder).
    """
    checked = check_channel("table", cls.name, table, {cls.name: cls})
    return [f"{render_path(path[2:]) or '(table)'}: {message}" for path, message in checked.problems]


def channel_settings(
    municipality: Municipality,
    channels: Mapping[str, type[Channel]],
    *,
    only: Collection[str] | None = None,
) -> dict[str, ChannelSettings]:
    """Validate each configured channel's settings with its plugin's model: the engine's one call to build them.

    Args:
        municipality: a loaded municipality file.
        channels: the installed channel classes by name (``HothatPlugins.channels()``).
        only: the names of the channels to check (default: all), e.g. leaving out those a test replaces.

    Returns:
        The settings by channel name, secrets read (relative ``x_file`` paths from the file's folder).

    Raises:
        ConfigurationError: listing every problem, in the form ``load_config`` gives them: a channel whose plugin
            is not installed, a setting that does not validate, a secret that cannot be read.
    """
    base = source_folder(municipality.source)
    found: dict[str, ChannelSettings] = {}
    problems: list[ConfigProblem] = []
    for config in municipality.channels:
        if only is not None and config.name not in only:
            continue
        checked = check_channel(config.name, config.plugin, config.settings, channels, base_dir=base)
        for path, message in checked.warnings:
            log.warning("%s: %s: %s", municipality.source, render_path(path), message)
        problems += [ConfigProblem(municipality.source, render_path(p), m) for p, m in checked.problems]
        if checked.settings is not None:
            found[config.name] = checked.settings
    if problems:
        raise ConfigurationError(problems)
    return found
