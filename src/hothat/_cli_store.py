"""The ``hothat report`` and ``hothat purge`` subcommands: reading and pruning the SQLite store.

``report`` lists open and recent incidents, shows one incident's trail (``report OX-2026-0042``), or prints
statistics without personal data (``--stats``); as text, JSON or CSV. ``purge`` lists the closed incidents past
the municipality's ``retention`` and, with ``--yes``, removes them.

A store that cannot be used (missing, locked, damaged, or written by a newer hothat) is reported as one line on
stderr with exit code 2, and nothing is written. Each subcommand has an ``*_arguments(parser)`` and a
``run_*(args) -> int`` for the ``hothat`` command table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hothat.domain import Municipality
from hothat.errors import IncidentError, StoreError
from hothat.store import Store

__all__ = ["PURGE_HELP", "REPORT_HELP", "purge_arguments", "report_arguments", "run_purge", "run_report"]

REPORT_HELP = "list open and recent incidents, show one incident's trail, or statistics without personal data"
PURGE_HELP = "list closed incidents past the retention; remove them with --yes"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _out(text: str) -> None:
    print(text, file=sys.stdout)


def _err(text: str) -> None:
    print(f"hothat: {text}", file=sys.stderr)


def _store_arguments(parser: argparse.ArgumentParser, config_help: str) -> None:
    parser.add_argument("--store", metavar="FILE", help="the SQLite store (default: the store the --config file names)")
    parser.add_argument("--config", metavar="FILE", help=config_help)
    parser.add_argument(
        "--wait",
        metavar="SECONDS",
        type=float,
        default=5.0,
        help="how long to wait for a store another process has locked (default: 5)",
    )
    parser.add_argument("--lang", choices=("sv", "en"), default="sv", help="language of text output (default: sv)")


def _store_path(args: argparse.Namespace, municipality: Municipality | None) -> Path:
    """The store file to open: ``--store``, else the config's ``store`` next to the config file."""
    if args.store:
        path = Path(args.store)
    elif municipality is not None and args.config:
        if municipality.store == ":memory:":
            raise StoreError(f'{args.config} keeps its store in memory (store = ":memory:"): there is nothing to read')
        path = Path(municipality.store)
        if not path.is_absolute():
            path = Path(args.config).resolve().parent / path
    else:
        raise StoreError("say which store to read: --store FILE, or --config FILE to use the store it names")
    if not path.is_file():
        # Opening would create an empty store; a report on a mistyped path must say so instead.
        raise StoreError(f"no store at {path}: check the path (the engine creates the file when it first runs)")
    return path


def _municipality(args: argparse.Namespace) -> Municipality | None:
    from hothat.config import load_config

    return load_config(args.config) if args.config else None  # a bad file: ConfigurationError, exit 2


def _run(
    args: argparse.Namespace,
    municipality: Municipality | None,
    work: Callable[[Store, Municipality | None], Awaitable[int]],
) -> int:
    """Open the store, run ``work``; turn store and look-up errors into one line on stderr."""
    from hothat.store.sqlite import SqliteStore

    async def go() -> int:
        store = await SqliteStore.open(_store_path(args, municipality), busy_timeout=args.wait)
        try:
            return await work(store, municipality)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except StoreError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except IncidentError as exc:
        _err(str(exc))
        return EXIT_FAILED


# -- report -----------------------------------------------------------------------------------------------------


def report_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``hothat report``."""
    parser.add_argument(
        "reference", nargs="?", help="an incident's reference number (OX-2026-0042): show its whole trail"
    )
    _store_arguments(parser, "the municipality file: show names and role names instead of ids")
    view = parser.add_mutually_exclusive_group()
    view.add_argument(
        "--stats", action="store_true", help="counts by kind, severity and month, without any personal data"
    )
    view.add_argument("--all", action="store_true", help="list every incident, not only open and recently closed")
    parser.add_argument("--format", choices=("text", "json", "csv"), default="text", help="output format")


def run_report(args: argparse.Namespace) -> int:
    """Run ``hothat report``: 0 when shown, 1 for an unknown reference, 2 when the store or config is unusable."""
    from hothat import report

    if args.stats and args.reference:
        _err("--stats counts every incident: leave out the reference number")
        return EXIT_USAGE

    async def work(store: Store, municipality: Municipality | None) -> int:
        if args.stats:
            zone = ZoneInfo(municipality.timezone) if municipality is not None else UTC
            numbers = await report.statistics(store, timezone=zone)
            _out(report.format_statistics(numbers, args.format, lang=args.lang))
        elif args.reference:
            incident, rows = await report.incident_trail(
                store, args.reference, municipality=municipality, lang=args.lang
            )
            _out(report.format_trail(incident, rows, args.format, lang=args.lang, municipality=municipality))
        else:
            recent = None if args.all else report.RECENT
            found = await report.incident_list(store, now=datetime.now(UTC), recent=recent)
            _out(report.format_incidents(found, args.format, lang=args.lang, municipality=municipality))
        return EXIT_OK

    return _run(args, _municipality(args), work)


# -- purge ------------------------------------------------------------------------------------------------------


def purge_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``hothat purge``."""
    _store_arguments(parser, "the municipality file, whose retention decides (required)")
    parser.add_argument("--yes", action="store_true", help="remove them (without it, only list them)")


_PURGE = {
    "none": (
        "Inga avslutade ärenden är äldre än lagringstiden ({}).",
        "No closed incident is past the retention ({}).",
    ),
    "head": (
        "Avslutade före {} (lagringstid {}):",
        "Closed before {} (retention {}):",
    ),
    "line": ("  {}  avslutat {}", "  {}  closed {}"),
    "dry": (
        "{} {} kan tas bort. Kör igen med --yes för att ta bort {}.",
        "{} {} may be removed. Run again with --yes to remove {}.",
    ),
    "done": ("{} {} borttagna.", "{} {} removed."),
    "incidents": ("ärende|ärenden", "incident|incidents"),
    "them": ("det|dem", "it|them"),
    "no_retention": (
        '{} anger ingen lagringstid: skriv t.ex. retention = "730d" under [municipality]',
        '{} sets no retention: add e.g. retention = "730d" under [municipality]',
    ),
}


def run_purge(args: argparse.Namespace) -> int:
    """Run ``hothat purge``: list (or with ``--yes`` remove) closed incidents past the retention."""
    from hothat import report
    from hothat.domain import format_duration

    def say(key: str, *values: object) -> str:
        return _PURGE[key][1 if args.lang == "en" else 0].format(*values)

    def plural(key: str, count: int) -> str:
        one, _, many = say(key).partition("|")
        return one if count == 1 else many

    if not args.config:
        _err("--config FILE is needed: the municipality file sets the retention")
        return EXIT_USAGE
    municipality = _municipality(args)
    assert municipality is not None
    retention = municipality.retention
    if retention is None:
        _err(say("no_retention", args.config))
        return EXIT_USAGE

    async def work(store: Store, _: Municipality | None) -> int:
        now = datetime.now(UTC)
        kept = format_duration(retention)
        found = await report.past_retention(store, municipality, now=now)
        if not found:
            _out(say("none", kept))
            return EXIT_OK
        zone = ZoneInfo(municipality.timezone)
        _out(say("head", (now - retention).astimezone(zone).strftime("%Y-%m-%d %H:%M"), kept))
        for candidate in found:
            _out(say("line", candidate.reference, candidate.closed_at.astimezone(zone).strftime("%Y-%m-%d")))
        if not args.yes:
            _out(say("dry", len(found), plural("incidents", len(found)), plural("them", len(found))))
            return EXIT_OK
        removed = await store.purge([c.id for c in found])
        _out(say("done", removed, plural("incidents", removed)))
        return EXIT_OK

    return _run(args, municipality, work)
