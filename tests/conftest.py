"""Shared fixtures: an isolated store location, a comm that records what widgets send, a real
PostgreSQL server, and ``new_store``: one store factory run on every backend.

PostgreSQL: one server per test session, started by ``scripts/start-postgres.sh`` in a
temporary folder (Debian's package, 127.0.0.1, a free port), or the server at
``$STREAMWIDGET_PG_DSN`` (a superuser DSN). Each store gets its own schema: the DSN sets its
search path. Without PostgreSQL (not installed and not installable) the PostgreSQL cases are
skipped, unless ``STREAMWIDGET_REQUIRE_PG=1`` (CI): then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import comm
import pytest
from comm.base_comm import BaseComm

from streamwidget import Store


class RecordingComm(BaseComm):
    """A comm that keeps every message a widget publishes, with its size as JSON."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.messages: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.messages.append({"msg_type": msg_type, "data": data, "buffers": list(buffers or [])})

    def custom(self) -> list[dict[str, Any]]:
        return [
            m["data"]["content"]
            for m in self.messages
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "custom"
        ]

    def updates(self) -> list[dict[str, Any]]:
        return [
            m["data"]["state"]
            for m in self.messages
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "update"
        ]

    def nbytes(self) -> int:
        """Bytes of the updates and custom messages (the open, which carries the front-end
        module once per widget, is a fixed cost and not counted)."""
        return sum(
            len(json.dumps(m["data"], default=str))
            for m in self.messages
            if m["msg_type"] == "comm_msg"
        )


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    """Every comm a widget opens during the test, recording its messages."""
    opened: list[RecordingComm] = []

    def create(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        opened.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create)
    return opened


@pytest.fixture(autouse=True)
def isolated_store_path(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the user's real store: the default store lives in a temp dir."""
    monkeypatch.setenv(
        "STREAMWIDGET_STORE", str(tmp_path_factory.mktemp("default-store") / "store.duckdb")
    )


# -- PostgreSQL ---------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
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
def pg_schema(pg_server: str) -> Iterator[Callable[[], str]]:
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
def pg_dsn(pg_schema: Callable[[], str]) -> str:
    """A superuser DSN on a fresh, empty schema."""
    return pg_schema()


# -- every backend ------------------------------------------------------------------------------


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The backend a ``new_store`` test runs on (each such test runs once per backend)."""
    return str(request.param)


@pytest.fixture
def new_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Store]]:
    """``new_store(name=None, **options)``: a :class:`Store` on this test's backend. No name:
    a fresh one (``":memory:"``, a fresh schema); the same name again within a test opens the
    same data (a file in ``tmp_path``, a schema), e.g. to close and reopen. Stores left open
    are closed after the test."""
    opened: list[Store] = []
    places: dict[str, str] = {}
    new_schema = request.getfixturevalue("pg_schema") if backend == "postgres" else None

    def make(name: str | None = None, **options: Any) -> Store:
        if new_schema is not None:
            if name is None or name not in places:
                places[name or ""] = new_schema()
            where = places[name or ""]
        else:
            where = ":memory:" if name is None else str(tmp_path / f"{name}.duckdb")
        store = Store(where, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()  # before a schema is dropped
