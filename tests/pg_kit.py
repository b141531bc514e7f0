"""A throw-away PostgreSQL cluster for the tests, started once per pytest run.

``cluster(config)`` starts it on first use with ``scripts/pg-test-cluster.sh`` (a temp dir, a free 127.0.0.1
port, fsync off) and stops it when pytest ends; when PostgreSQL is not installed the calling test is skipped with
the reason. ``HOTHAT_TEST_PG_DSN`` points the tests at a cluster of your own instead (its superuser's DSN).

Each test gets a fresh schema (``Cluster.fresh_dsn``): the same database, nothing shared between tests.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import attrs
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pg-test-cluster.sh"
_NOT_INSTALLED = 3  # the script's exit status when there is no PostgreSQL to start


@attrs.define
class Cluster:
    """A running cluster: ``dsn`` is its superuser's DSN on the test database."""

    dsn: str
    folder: str | None = None  # the temp dir the script made (None for an external cluster)
    _serial: itertools.count[int] = attrs.field(factory=itertools.count)

    def fresh_dsn(self) -> str:
        """The DSN of a new, empty schema: everything a store creates through it stays there."""
        schema = f"t{os.getpid()}_{next(self._serial)}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())  # left by an earlier run (own cluster)
            conn.execute(f"CREATE SCHEMA {schema}".encode())
        return make_conninfo(self.dsn, options=f"-c search_path={schema}")

    def emptied_dsn(self, schema: str) -> str:
        """The DSN of ``schema``, its hothat tables (if any) emptied: faster than a fresh schema, which must be
        migrated (about 0.2 s)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            tables = conn.execute(
                "SELECT string_agg(quote_ident(table_name), ', ') FROM information_schema.tables"
                " WHERE table_schema = %s AND table_name LIKE 'hothat_%%' AND table_name <> 'hothat_schema_version'",
                (schema,),
            ).fetchone()
            if tables is not None and tables[0]:
                conn.execute(f"SET search_path = {schema}; TRUNCATE {tables[0]} RESTART IDENTITY".encode())
        return make_conninfo(self.dsn, options=f"-c search_path={schema}")

    def execute(self, query: str) -> None:
        """Run one statement as the superuser (roles, grants)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(query.encode())

    def stop(self) -> None:
        """Stop the cluster and remove its folder (nothing for an external cluster)."""
        if self.folder is not None:
            subprocess.run(["bash", str(SCRIPT), "stop", self.folder], check=False, capture_output=True)
            self.folder = None


_started: Cluster | None = None
_missing: str | None = None  # why there is no cluster: the tests skip
_failed: str | None = None  # why the cluster did not start: the tests fail
_lock = threading.Lock()


def cluster(config: pytest.Config) -> Cluster:
    """The run's cluster, started on first use (and stopped when pytest ends); skips the test without one."""
    global _started, _missing, _failed
    with _lock:
        if _started is None and _missing is None and _failed is None:
            external = os.environ.get("HOTHAT_TEST_PG_DSN")
            if external:
                _started = Cluster(external)
            else:
                try:
                    _started, _missing = _start()
                except RuntimeError as exc:
                    _failed = str(exc)
                if _started is not None:
                    config.add_cleanup(_started.stop)
        if _missing is not None:
            pytest.skip(_missing)
        if _failed is not None:
            pytest.fail(_failed, pytrace=False)
        assert _started is not None
        return _started


def _start() -> tuple[Cluster | None, str | None]:
    folder = tempfile.mkdtemp(prefix="hothat-pg-")
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(SCRIPT), "start", folder], capture_output=True, text=True, env=env, check=False)
    if done.returncode == _NOT_INSTALLED:
        os.rmdir(folder)
        return None, f"PostgreSQL is not installed here: {done.stderr.strip()}"
    if done.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], check=False, capture_output=True)
        raise RuntimeError(f"the test PostgreSQL cluster did not start:\n{done.stderr}")
    return Cluster(done.stdout.strip(), folder), None
