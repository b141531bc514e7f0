"""One check of a whole municipality file: its records, the checks across them, its channels and its secrets.

:func:`check_document` runs everything on a parsed TOML document and returns a :class:`ConfigCheck`: the
municipality when nothing is wrong, every problem otherwise, and the warnings either way. ``load_config`` raises
the problems; ``hothat validate`` prints both.
"""

from __future__ import annotations

import re
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from hothat._secrets import SECRET_MISSING, SecretError, SecretReading
from hothat._text import escape
from hothat.config._build import build_municipality
from hothat.config._channels import MissingSecrets, channel_classes, check_channel
from hothat.config._checks import run_checks
from hothat.config._errors import Report
from hothat.config._parse import Parsed, parse_document
from hothat.config._schema import ENV_PATTERN, FileModel
from hothat.domain.municipality import Municipality
from hothat.errors import ConfigProblem

if TYPE_CHECKING:
    from hothat.plugins import HothatPlugins

__all__ = ["ConfigCheck", "check_document"]

_TOKEN_KEYS = ("token_secret_env", "token_secret_file")


@attrs.frozen
class ConfigCheck:
    """What checking a municipality file found.

    Attributes:
        municipality: the loaded municipality, or ``None`` when there are problems.
        problems: every problem, in file order (a file with any cannot be used).
        warnings: what is allowed but worth knowing: a secret that is missing on this machine (with
            ``missing_secrets="warn"``), a secret file every user can read.
    """

    municipality: Municipality | None
    problems: tuple[ConfigProblem, ...] = ()
    warnings: tuple[ConfigProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the file can be used (warnings or not)."""
        return not self.problems

    def report_lines(self, source: str) -> list[str]:
        """What ``hothat validate`` prints on stderr: each warning, each problem, then how many problems.

        Every line is safe to print: control and bidi characters (from a file name, say) are escaped.
        """
        lines = [_warning_line(w) for w in self.warnings] + [str(p) for p in self.problems]
        if self.problems:
            count = len(self.problems)
            lines.append(f"{count} problem{'s' if count != 1 else ''} found in {source}.")
        return [escape(line) for line in lines]


def _warning_line(warning: ConfigProblem) -> str:
    where = f"{warning.source}: {warning.path}" if warning.path else warning.source
    return f"{where}: warning: {warning.message}"


def _token_secret(raw: Any, base_dir: FsPath, report: Report, warnings: Report, lower: bool) -> None:
    """Check the link-token secret the ``[municipality]`` table names, if it names one."""
    from hothat.messages.tokens import token_secret

    header = raw.get("municipality") if isinstance(raw, dict) else None
    if not isinstance(header, dict):
        return
    given = [key for key in _TOKEN_KEYS if isinstance(header.get(key), str)]
    if len(given) == 2:
        report.add(("municipality", "token_secret_file"), "give either token_secret_env or token_secret_file, not both")
        return
    key = given[0] if given else "token_secret_env"
    value = header.get(key, "HOTHAT_TOKEN_SECRET")
    if key == "token_secret_env" and not re.fullmatch(ENV_PATTERN, value):
        return  # not a variable name: reported where the table is read
    reading = SecretReading(base_dir=base_dir, warnings=[])
    try:
        token_secret(key, value, reading)
    except SecretError as exc:
        if exc.kind != SECRET_MISSING:
            report.add(("municipality", key), exc.reason)
        elif key == "token_secret_file":
            (warnings if lower else report).add(("municipality", key), exc.reason)
        # An unset variable is no problem here: the engine then signs links with a temporary secret, and says so.
    for _, _, message in reading.warnings or ():
        warnings.add(("municipality", key), message)


def _channels(
    parsed: Parsed,
    plugins: HothatPlugins | pluggy.PluginManager | None,
    base_dir: FsPath,
    report: Report,
    warnings: Report,
    missing_secrets: MissingSecrets,
) -> None:
    """Check every channel table that validated with its plugin's settings model."""
    if not parsed.channels:
        return  # no plugin is needed (or looked for) for a file without channels
    available = channel_classes(plugins)
    for name, model in parsed.channels.items():
        table = dict(model.model_extra or {})
        checked = check_channel(
            name, model.plugin, table, available, base_dir=base_dir, missing_secrets=missing_secrets
        )
        for path, message in checked.problems:
            report.add(path, message)
        for path, message in checked.warnings:
            warnings.add(path, message)


def check_document(
    raw: dict[str, Any],
    source: str,
    *,
    base_dir: FsPath,
    plugins: HothatPlugins | pluggy.PluginManager | None = None,
    missing_secrets: MissingSecrets = "error",
) -> ConfigCheck:
    """Check a parsed TOML document: every record, every check across them, the channels and the secrets."""
    if missing_secrets not in ("error", "warn"):
        raise ValueError(f'missing_secrets must be "error" or "warn", not {missing_secrets!r}')
    order = list(FileModel.model_fields)
    report = Report(source, order)
    warnings = Report(source, order)
    parsed = parse_document(raw, report)
    run_checks(parsed, report)
    _token_secret(raw, base_dir, report, warnings, missing_secrets == "warn")
    _channels(parsed, plugins, base_dir, report, warnings, missing_secrets)
    if report:
        return ConfigCheck(None, tuple(report.problems()), tuple(warnings.problems()))
    return ConfigCheck(build_municipality(parsed, source, base_dir), (), tuple(warnings.problems()))
