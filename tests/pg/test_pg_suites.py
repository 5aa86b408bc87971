"""tests/test_store.py and tests/test_transfer.py, run again on the PostgreSQL store.

The modules are loaded under other names and their ``Store`` is replaced by a factory that
opens a PostgreSQL store instead: ``":memory:"`` is a fresh schema each time, a file path is
one schema per path within a test (so "close, then open the same file again" reopens the same
data). Tests that are about the DuckDB file itself (its lock, its folder, its format) stay
DuckDB-only; their PostgreSQL counterparts are in test_pg_store.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from streamwidget import Store

TESTS = Path(__file__).resolve().parents[1]

DUCKDB_ONLY = {
    "test_unwritable_folder_is_a_clear_error",
    "test_a_file_held_by_another_process_is_reported_as_locked",
    "test_streams_left_open_by_a_killed_process_become_interrupted",  # a PG one in test_pg_store
    "test_store_file_is_a_real_duckdb_database",
    "test_default_path_follows_the_environment",  # not about a store
}


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_pg_{name}", TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


_MODULES = [_load("test_store"), _load("test_transfer")]
_current: dict[str, Any] = {}


def _pg_store(path: Any = None, **kwargs: Any) -> Store:
    key = str(path)
    if key == ":memory:" or key not in _current["schemas"]:
        _current["schemas"][key] = _current["new"]()
    store = Store(_current["schemas"][key], **kwargs)
    _current["stores"].append(store)
    return store


for _module in _MODULES:
    _module.Store = _pg_store
    for _name, _value in vars(_module).items():
        if _name.startswith("test_") and callable(_value):
            if _name in DUCKDB_ONLY:
                continue
            globals()[f"{_name}_pg"] = _value
        elif getattr(_value, "_fixture_function_marker", None) or type(_value).__name__ in (
            "FixtureFunctionDefinition",
            "FixtureFunctionMarker",
        ):
            globals()[_name] = _value  # the modules' own fixtures (test_transfer's store)


@pytest.fixture(autouse=True)
def _postgres_store(pg_schema):
    _current.update(new=pg_schema, schemas={}, stores=[])
    yield
    for store in _current["stores"]:
        store.close()  # before the schema is dropped
    _current.clear()
