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
    base = {
        **os.environ,
        "STREAMWIDGET_STORE": str(tmp_path / "store.duckdb"),
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "NO_COLOR": "1",
        "COLUMNS": "80",
    }

    def run(
        *args: str, check: int | None = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "streamwidget", *args],
            env={**base, **(env or {})},
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
    assert listing[0].split()[:3] == ["id", "status", "model"]
    assert len([line for line in listing if line.startswith("s_")]) == 4
    wide = run("ls", env={"COLUMNS": "200"}).stdout.splitlines()
    assert wide[0].split()[:4] == ["id", "created", "status", "model"] and len(wide) == 5
    rows = ids_of(run)
    statuses = sorted(row["status"] for row in rows.values())
    assert statuses == ["complete", "complete", "complete", "error"]
    weather = next(sid for sid, row in rows.items() if row["status"] == "error")
    assert "anthropic/claude-sonnet-4-5" in next(line for line in wide if weather in line)
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


def test_version(run):
    from streamwidget import __version__

    assert run("--version").stdout.strip().startswith(f"streamwidget {__version__} (Python 3.")


def test_mistyped_names_get_a_did_you_mean(run):
    nope = run("replay", "nope", check=1).stderr
    assert "'nope' is not a file, a bundled recording or a stream in the store" in nope
    assert "Bundled recordings are: code-review, hello, markdown-tour, weather-tool-error." in nope
    assert "Did you mean" not in nope
    assert "Did you mean 'hello'?" in run("replay", "helo", check=1).stderr
    assert "Did you mean 'markdown-tour'?" in run("replay", "markdown_tour.jsonl", check=1).stderr
    assert "did you mean 'ls'?" in run("lss", check=2).stderr
    assert "did you mean 'model'?" in run("stats", "--by", "modle", check=2).stderr


def _long_model_store(run, tmp_path):
    """The bundled recordings plus a stream whose model name and tool error are very long."""
    run("import", str(BUNDLED))
    events = [
        {"t": 0.1, "type": "text", "text": "hi"},
        {"t": 0.2, "type": "tool_call_start", "id": "call_" + "x" * 60, "name": "lookup"},
        {"t": 0.3, "type": "tool_call_end", "id": "call_" + "x" * 60, "arguments": {}},
        {
            "t": 0.4,
            "type": "tool_result",
            "id": "call_" + "x" * 60,
            "status": "error",
            "error": "the lookup service said no " * 8,
        },
        {"t": 0.5, "type": "finish", "reason": "stop"},
    ]
    model = "meta-llama/Llama-3.3-70B-Instruct-Turbo-with-a-very-long-suffix"
    path = Recording.new(provider="together", model=model, events=events).save(
        tmp_path / "long.jsonl"
    )
    run("import", str(path))
    return model


def test_every_table_fits_80_columns(run, tmp_path):
    model = _long_model_store(run, tmp_path)
    for args in (["ls"], ["stats"], ["stats", "--by", "model"], ["stats", "--by", "tool"]):
        done = run(*args)
        lines = done.stdout.splitlines()
        assert lines and max(len(line) for line in lines) <= 80, (args, done.stdout)
        assert "left out to fit the width" in done.stderr  # says what is not shown
    lines = run("stats", "--by", "model").stdout.splitlines()
    start, end = lines[0].index("model"), lines[0].index("streams")
    row = next(i for i, line in enumerate(lines) if line.startswith("together"))
    rest = [row] + [i for i in range(row + 1, len(lines)) if lines[i].startswith(" ")]
    assert "".join(lines[i][start:end].strip() for i in rest) == model  # wrapped, not cut
    assert len(rest) > 1
    sid = next(s for s, row in ids_of(run).items() if row["model"] == model)
    shown = run("show", sid, "--events").stdout.splitlines()
    first = next(i for i, line in enumerate(shown) if line.split()[:2] == ["#", "t"])
    events = shown[first : shown.index("--- reply ---")]
    assert len([ln for ln in events if ln]) == 6 and max(len(ln) for ln in events) <= 80
    assert any(line.endswith("…") for line in events)  # the long tool result, cut
    roomy = run("stats", "--by", "model", env={"COLUMNS": "250"})
    assert "tool_failures" not in roomy.stdout and "tool fails" in roomy.stdout
    assert roomy.stderr == "" and model in roomy.stdout


def test_migrate_reports_progress(run, tmp_path):
    run("import", str(BUNDLED))
    target = tmp_path / "copy.duckdb"
    done = run("migrate", str(target), "--progress")
    assert "copied 0 conversation(s), 0 message(s) and 4 stream(s)" in done.stdout
    assert "4/4" in done.stderr and "[####" in done.stderr
    quiet = run("migrate", str(tmp_path / "other.duckdb"))  # quick and not a terminal
    assert quiet.stderr == ""


def test_progress_off_a_terminal_prints_lines_only_for_slow_work():
    import io

    from streamwidget.cli_format import Progress

    now = [0.0]
    out = io.StringIO()
    progress = Progress("auto", stream=out, what="streams", clock=lambda: now[0])
    assert progress.mode == "lines"  # a StringIO is not a terminal
    for done in range(1, 11):
        now[0] = done * 0.3  # 3 s in all
        progress(done, 10, f"s_{done}")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("4/10 streams (1.2 s) s_4")
    assert lines[-1].startswith("10/10 streams (3.0 s)")
    assert len(lines) == 3  # at most one a second, plus the last
    quick = io.StringIO()
    fast = Progress("auto", stream=quick, clock=lambda: 0.1)
    for done in range(1, 11):
        fast(done, 10, "x")
    assert quick.getvalue() == ""


def test_demo_asks_jupyter_to_allow_root_only_as_root(monkeypatch, capsys, tmp_path):
    for uid, expected in ((0, True), (1000, False)):
        monkeypatch.setattr(os, "geteuid", lambda uid=uid: uid)
        assert main(["demo", "--dry-run", "--dir", str(tmp_path)]) == 0
        assert ("--allow-root" in capsys.readouterr().out.split()) is expected


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_demo_starts_jupyterlab_as_root(tmp_path):
    """As root, `streamwidget demo` really serves (Jupyter refuses root without --allow-root)."""
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "STREAMWIDGET_STORE": str(tmp_path / "store.duckdb"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    command = [sys.executable, "-m", "streamwidget", "demo", "--no-browser", "--port", str(port)]
    log = (tmp_path / "lab.log").open("w")
    lab = subprocess.Popen(
        [*command, "--dir", str(tmp_path)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and lab.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not serve:\n" + (tmp_path / "lab.log").read_text())
    finally:
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
        log.close()


def test_render_gives_way_in_order_wrap_cut_prefix_then_leaves_out():
    from streamwidget.cli_format import Column, render, wrap

    assert wrap("anthropic/claude-sonnet-4-5", 12) == ["anthropic/", "claude-", "sonnet-4-5"]
    assert wrap("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    columns = [
        Column("id", lambda r: r["id"], overflow="prefix", narrowest=6, keep=9),
        Column("model name", lambda r: r["model"], keep=8),
        Column("note", lambda r: r["note"], overflow="cut", narrowest=6, keep=4),
        Column("tokens out", lambda r: r["n"], right=True, keep=5),
        Column("extra", lambda r: "e" * 30, keep=0),
    ]
    rows = [
        {"id": "s_0123456789", "model": "meta-llama/Llama-3.3-70B", "note": "n" * 40, "n": 1234567}
    ]
    text, hidden = render(rows, columns, width=40)
    lines = text.splitlines()
    assert hidden == ["extra"] and max(len(line) for line in lines) <= 40
    assert lines[0].split()[:2] == ["id", "model"] and lines[1].split()[-1] == "out"
    assert "1234567" in text  # numbers are never cut
    assert "s_0123" in text and "s_0123456789" not in text  # an id gives way as a prefix
    assert "…" in text and "n" * 40 not in text  # a cut note
    model = "".join(line[8 : 8 + lines[0].index("note") - 8].strip() for line in lines[2:])
    assert model == "meta-llama/Llama-3.3-70B"  # wrapped over lines, nothing lost
    wide, none = render(rows, columns, width=200)
    assert none == [] and len(wide.splitlines()) == 2 and "e" * 30 in wide
