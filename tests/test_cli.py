"""The command line through its real entry point: ``python -m streamwidget ...``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from streamwidget import Recording
from streamwidget.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"
BUNDLED = Path(str(resources.files("streamwidget") / "recordings"))


@pytest.fixture
def run(tmp_path):
    """Run the CLI in a fresh process with its own store; returns the CompletedProcess."""
    env = {
        **os.environ,
        "STREAMWIDGET_STORE": str(tmp_path / "store.duckdb"),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "NO_COLOR": "1",
    }

    def run(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "streamwidget", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check is not None:
            assert done.returncode == check, done.stderr + done.stdout
        return done

    return run


def ids_of(run) -> dict[str, str]:
    """model title → stream id, from `ls --json`."""
    rows = json.loads(run("ls", "--json").stdout)
    return {row["stream_id"]: row for row in rows}


def test_import_then_ls_show_and_stats(run):
    done = run("import", str(BUNDLED))
    assert "imported 4 stream(s), 0 already in the store" in done.stdout
    again = run("import", str(BUNDLED / "hello.jsonl"))
    assert "imported 0 stream(s), 1 already in the store" in again.stdout

    listing = run("ls").stdout.splitlines()
    assert listing[0].split()[:4] == ["id", "created", "status", "model"]
    assert len(listing) == 5
    rows = ids_of(run)
    statuses = sorted(row["status"] for row in rows.values())
    assert statuses == ["complete", "complete", "complete", "error"]
    weather = next(sid for sid, row in rows.items() if row["status"] == "error")
    assert "anthropic/claude-sonnet-4-5" in next(line for line in listing if weather in line)
    assert len(run("ls", "--status", "error", "--json").stdout.split('"stream_id"')) == 2

    shown = run("show", weather[:8]).stdout
    assert shown.startswith(f"{weather}  error  anthropic/claude-sonnet-4-5")
    assert "tool get_weather" in shown and "error: overloaded" in shown
    assert "It is currently 14 °C and cloudy in Paris" in shown
    events = run("show", weather, "--events").stdout
    assert "tool_call_start" in events
    assert re.search(r"^\s*134\s+5\.627\s+error\s", events, re.MULTILINE)

    by_model = json.loads(run("stats", "--by", "model", "--json").stdout)
    gpt = next(r for r in by_model if r["model"] == "gpt-4o-mini")
    assert (gpt["streams"], gpt["output_tokens"]) == (2, 45 + 3180)
    tools = run("stats", "--by", "tool").stdout
    assert "get_weather" in tools and "done" in tools
    csv = run("stats", "--csv", "--stall-threshold", "1.0").stdout.splitlines()
    assert csv[0].startswith("stream_id,") and len(csv) == 5


def test_unknown_ids_and_bad_usage_fail_with_a_message(run):
    missing = run("show", "s_nothing", check=1)
    assert "streamwidget: error: no stream 's_nothing'" in missing.stderr
    assert run("bogus", check=2).stderr.startswith("usage: streamwidget")
    negative = run("replay", "hello", "--speed", "-1", check=1)
    assert "--speed must be >= 0" in negative.stderr
    assert main(["--help"]) == 0


def test_replay_prints_the_stream_at_its_pace(run, tmp_path):
    instant = run("replay", "hello", "--speed", "0").stdout
    assert instant.startswith("Hello! It's nice to meet you.")
    assert instant.rstrip().endswith("[finish: stop]")
    events = [{"t": 0.4 * i, "type": "text", "text": f"w{i} "} for i in range(1, 4)]
    events.append({"t": 1.3, "type": "finish", "reason": "stop"})
    path = Recording.new(provider="p", model="m", events=events).save(tmp_path / "slow.jsonl")
    started = time.monotonic()
    assert run("replay", str(path)).stdout.startswith("w1 w2 w3")
    real = time.monotonic() - started
    started = time.monotonic()
    run("replay", str(path), "--speed", "4")
    fast = time.monotonic() - started
    assert real >= 1.3 and fast < real - 0.6, (real, fast)
    weather = run("replay", "weather-tool-error", "--speed", "0").stdout
    assert '[tool] get_weather {"city": "Paris", "unit": "celsius"}' in weather
    assert "[tool] get_weather -> done:" in weather and "[error] overloaded" in weather


def test_replay_of_a_stored_stream_by_id(run):
    run("import", str(BUNDLED / "hello.jsonl"))
    [sid] = ids_of(run)
    assert run("replay", sid[:9], "--speed", "0").stdout.startswith("Hello!")


def test_export_and_import_round_trip_between_stores(run, tmp_path):
    run("import", str(BUNDLED))
    out = tmp_path / "out"
    done = run("export", "-o", str(out), "--progress")
    assert "exported 4 stream(s)" in done.stdout and "4/4" in done.stderr
    assert len(list(out.glob("*.jsonl"))) == 4
    run("export", "-o", str(tmp_path / "all.parquet"))
    other = tmp_path / "other.duckdb"
    imported = run("--store", str(other), "import", str(tmp_path / "all.parquet"))
    assert "imported 4 stream(s)" in imported.stdout
    again = run("import", "--store", str(other), str(out))  # --store after the command too
    assert "imported 0 stream(s), 4 already in the store" in again.stdout
    sid = next(iter(ids_of(run)))
    run("export", sid, "-o", str(tmp_path / "one.jsonl"))
    assert json.loads((tmp_path / "one.jsonl").read_text().splitlines()[0])["stream_id"] == sid


def test_export_redacts_unless_told_not_to(run, tmp_path):
    events = [
        {"t": 0.1, "type": "text", "text": "write to jo@example.org"},
        {"t": 0.2, "type": "finish", "reason": "stop"},
    ]
    path = Recording.new(provider="p", model="m", events=events).save(tmp_path / "r.jsonl")
    run("import", str(path))
    done = run("export", "-o", str(tmp_path / "red"))
    assert "1 secret(s) redacted" in done.stdout
    assert "jo@example.org" not in next((tmp_path / "red").glob("*.jsonl")).read_text()
    run("export", "-o", str(tmp_path / "plain"), "--no-redact")
    assert "jo@example.org" in next((tmp_path / "plain").glob("*.jsonl")).read_text()
    run("export", "-o", str(tmp_path / "own"), "--redact", "example")
    assert "jo@[REDACTED:pattern1].org" in next((tmp_path / "own").glob("*.jsonl")).read_text()


def test_import_reports_each_bad_line_and_imports_only_when_asked(run, tmp_path):
    lines = (BUNDLED / "hello.jsonl").read_text().splitlines()
    lines[3] = "{broken"
    lines[7] = '{"t": 0.7, "type": "text"}'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    refused = run("import", str(bad), check=1)
    assert f"bad line: {bad}, line 4: not valid JSON" in refused.stderr
    assert f"bad line: {bad}, line 8: 'text' event needs field 'text'" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert ids_of(run) == {}
    accepted = run("import", str(bad), "--skip-bad")
    assert "imported 1 stream(s), 0 already in the store, 2 bad line(s) skipped" in accepted.stdout
    assert accepted.stderr.count("skipped:") == 2
    [row] = ids_of(run).values()
    assert row["events"] == len(lines) - 1 - 2


def test_demo_opens_the_notebooks_folder(run, tmp_path):
    command = run("demo", "--dry-run", "--port", "9999", "--no-browser").stdout.split()
    assert command[1:3] == ["-m", "jupyterlab"]
    assert Path(command[3]) == SRC.parent / "notebooks"
    assert "--ServerApp.port=9999" in command and "--no-browser" in command
    elsewhere = run("demo", "--dry-run", "--dir", str(tmp_path)).stdout.split()
    assert elsewhere[3] == str(tmp_path)
