"""A real PostgreSQL server for the PostgreSQL store's tests.

One server per test session, started by ``scripts/start-postgres.sh`` in a temporary folder
(Debian's package, 127.0.0.1, a free port), or the server at ``$STREAMWIDGET_PG_DSN`` (a
superuser DSN). Each test gets its own schema (``pg_dsn``): the DSN sets its search path.

Without PostgreSQL (not installed and not installable) these tests are skipped, unless
``STREAMWIDGET_REQUIRE_PG=1`` (CI): then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "start-postgres.sh"


def _unavailable(reason: str) -> None:
    if os.environ.get("STREAMWIDGET_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL is required (STREAMWIDGET_REQUIRE_PG=1): {reason}")
    pytest.skip(f"no PostgreSQL: {reason}")


def with_schema(dsn: str, schema: str) -> str:
    """``dsn`` with its search path set to ``schema``."""
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A superuser DSN of a running server."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'streamwidget[postgres]')")
    if os.environ.get("STREAMWIDGET_PG_DSN"):
        yield os.environ["STREAMWIDGET_PG_DSN"]
        return
    folder = Path(tempfile.mkdtemp(prefix="sw-pg-"))
    try:
        out = subprocess.run(
            ["bash", str(SCRIPT), str(folder)],
            capture_output=True,
            text=True,
            timeout=600,  # installing the package may take a while; starting takes seconds
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{SCRIPT.name} failed: {exc}")
    if out.returncode != 0:
        _unavailable(f"{SCRIPT.name} exited {out.returncode}: {out.stderr[-2000:]}")
    try:
        yield out.stdout.strip().splitlines()[-1]
    finally:
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        stop = [str(pg_ctl), "-D", str(folder / "data"), "stop", "-m", "immediate", "-w"]
        if os.geteuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_schema(pg_server: str) -> Iterator[callable]:
    """``new()`` makes a fresh schema (usable by every role) and returns a superuser DSN
    whose search path is that schema. Schemas are dropped after the test."""
    import psycopg

    made: list[str] = []
    admin = psycopg.connect(pg_server, autocommit=True)

    def new() -> str:
        name = f"sw_{uuid.uuid4().hex[:12]}"
        admin.execute(f"CREATE SCHEMA {name}")
        admin.execute(f"GRANT USAGE ON SCHEMA {name} TO PUBLIC")
        made.append(name)
        return with_schema(pg_server, name)

    try:
        yield new
    finally:
        for name in made:
            admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        admin.close()


@pytest.fixture
def pg_dsn(pg_schema) -> str:
    """A superuser DSN on a fresh, empty schema."""
    return pg_schema()
