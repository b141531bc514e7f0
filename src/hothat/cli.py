"""The ``hothat`` command.

Each subcommand is one function taking the parsed arguments and returning an exit code, registered with
`command` together with a function that adds its arguments. ``main`` turns every hothat error into a
message and an exit code, so no traceback reaches a user (set ``HOTHAT_DEBUG=1`` to see one).

Exit codes: 0 success; 1 a hothat error at run time; 2 a bad command line or a bad configuration;
70 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable

import attrs

from hothat import _cli_sim, _cli_store
from hothat._text import escape
from hothat.config import check_config, json_schema, summarize
from hothat.errors import ConfigurationError, HothatError

__all__ = ["COMMANDS", "Command", "command", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70

Run = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A subcommand without arguments."""


@attrs.frozen
class Command:
    """A subcommand: its name, one-line help, the function that runs it and the one adding its arguments."""

    name: str
    help: str
    run: Run
    arguments: AddArguments = _no_arguments


COMMANDS: dict[str, Command] = {}
"""Every subcommand by name, in the order they are listed in ``hothat --help``."""


def command(name: str, help: str, arguments: AddArguments = _no_arguments) -> Callable[[Run], Run]:
    """Register the decorated function as the subcommand ``name``."""

    def register(run: Run) -> Run:
        COMMANDS[name] = Command(name=name, help=help, run=run, arguments=arguments)
        return run

    return register


def _out(text: str = "") -> None:
    print(text, file=sys.stdout)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _report_configuration_error(error: ConfigurationError) -> None:
    for problem in error.problems:
        _err(escape(str(problem)))
    count = len(error.problems)
    source = error.problems[0].source if error.problems else "the configuration"
    _err(f"{count} problem{'s' if count != 1 else ''} found in {source}.")


# ----------------------------------------------------------------------------------------------------------
# validate
# ----------------------------------------------------------------------------------------------------------


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the municipality file (TOML)")
    parser.add_argument(
        "--allow-missing-secrets",
        action="store_true",
        help="report an unset *_env variable or a missing *_file as a warning, not a problem "
        "(to check a file on a machine that does not hold its secrets)",
    )


@command("validate", "check a municipality file and summarise it", _validate_arguments)
def validate(args: argparse.Namespace) -> int:
    """Check a municipality file; print a summary (exit 0) or every problem found (exit 2, on stderr).

    Warnings go to stderr too and leave the exit code 0.
    """
    checked = check_config(args.file, missing_secrets="warn" if args.allow_missing_secrets else "error")
    for line in checked.report_lines(args.file):
        _err(line)
    if checked.municipality is None:
        return EXIT_USAGE
    _out(escape(f"{args.file}: OK"))
    _out(escape(summarize(checked.municipality), keep="\n"))
    return EXIT_OK


# ----------------------------------------------------------------------------------------------------------
# schema
# ----------------------------------------------------------------------------------------------------------


@command("schema", "print the JSON Schema of a municipality file")
def schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the municipality file format."""
    _out(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


# ----------------------------------------------------------------------------------------------------------
# demo
# ----------------------------------------------------------------------------------------------------------


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="hothat-demo.db", help="the SQLite file to write (default: %(default)s)")
    parser.add_argument("--html", default="hothat-demo.html", help="the timeline picture (default: %(default)s)")
    parser.add_argument("--lang", choices=("sv", "en"), default="sv", help="language of the output")
    parser.add_argument("--no-drill", action="store_true", help="skip the drill of the configuration")


@command("demo", "run an Oxelösund incident end to end on loopback servers and a virtual clock", _demo_arguments)
def demo(args: argparse.Namespace) -> int:
    """Run the built-in demo: an Oxelösund incident over SMS, voice and e-mail on loopback, with SQLite."""
    import asyncio
    from pathlib import Path

    from hothat._demo import run_demo

    return asyncio.run(
        run_demo(db=Path(args.db), html=Path(args.html) if args.html else None, lang=args.lang, drill=not args.no_drill)
    )


# simulate and drill live in hothat._cli_sim
command("simulate", _cli_sim.SIMULATE_HELP, _cli_sim.simulate_arguments)(_cli_sim.run_simulate)
command("drill", _cli_sim.DRILL_HELP, _cli_sim.drill_arguments)(_cli_sim.run_drill)

# report and purge live in hothat._cli_store
command("report", _cli_store.REPORT_HELP, _cli_store.report_arguments)(_cli_store.run_report)
command("purge", _cli_store.PURGE_HELP, _cli_store.purge_arguments)(_cli_store.run_purge)


# ----------------------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="hothat",
        description="Escalation routines for threats, hate and violence against elected officials.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        sub = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``hothat`` command line and return its exit code."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show å, ä, ö must not turn a summary into a crash.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exit_:  # --help, or a usage error already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        return COMMANDS[args.command].run(args)
    except ConfigurationError as exc:
        _report_configuration_error(exc)
        return EXIT_USAGE
    except HothatError as exc:
        _err(f"hothat: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("hothat: interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("HOTHAT_DEBUG"):
            raise
        _err(
            f"hothat: internal error ({type(exc).__name__}); run again with HOTHAT_DEBUG=1 to see where, "
            "and please report it"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
