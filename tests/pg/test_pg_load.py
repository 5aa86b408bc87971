"""20 writer processes and 5 follower processes on one PostgreSQL store (slow)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_postgres.py"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_twenty_writers_and_five_followers_store_everything_once_and_converge(pg_dsn):
    spec = importlib.util.spec_from_file_location("_bench_postgres", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(pg_dsn, writers=20, followers=5, speed=10.0)
    print(result)
    assert result["events_stored"] == result["events_distinct"] == result["events"]
    assert result["exactly_once_in_order"]
    assert result["documents_match_recordings"]
    assert result["deliveries"] == result["deliveries_expected"]  # every follower heard all
    assert result["followers_converged"]
