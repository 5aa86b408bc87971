"""Two notebooks open at once: several processes stream into, and read from, one store file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import streamwidget
from streamwidget import Store

SRC = os.path.dirname(os.path.dirname(streamwidget.__file__))

WORKER = textwrap.dedent("""
    import asyncio, json, sys, time
    sys.path.insert(0, {src!r})
    from streamwidget import Recording, ReplayProvider, Store, start

    async def main():
        store = Store({path!r})
        events = [{{"t": i * 0.0005, "type": "text", "text": "{name}%d " % i}}
                  for i in range({n})]
        events.append({{"t": {n} * 0.0005, "type": "finish", "reason": "stop"}})
        recording = Recording.new(provider="p", model="{name}", events=events)
        handles = [start(ReplayProvider(recording, speed=1.0), store=store) for _ in range(2)]
        docs = [await h for h in handles]
        seen = [s["model"] for s in store.streams(limit=1000)]  # history, others' included
        store.close()
        print(json.dumps({{"ids": [d.stream_id for d in docs],
                          "statuses": [d.status for d in docs], "seen": seen}}))

    asyncio.run(main())
""")


def run_workers(path, names, n):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER.format(src=SRC, path=str(path), name=name, n=n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_three_processes_stream_into_one_file_and_lose_nothing(tmp_path):
    path = tmp_path / "shared.duckdb"
    started = time.monotonic()
    results = run_workers(path, ["alpha", "beta", "gamma"], n=1500)
    elapsed = time.monotonic() - started
    with Store(path) as store:
        for name, result in zip(["alpha", "beta", "gamma"], results):
            assert result["statuses"] == ["complete", "complete"]
            for stream_id in result["ids"]:
                doc = store.get(stream_id)
                assert doc.text == "".join(f"{name}{i} " for i in range(1500))
                events = store.events(stream_id)
                assert len(events) == 1501 and events[-1]["type"] == "finish"
        rows = store.sql(
            "SELECT stream_id, count(*) AS n, count(DISTINCT seq) AS seqs "
            "FROM events GROUP BY stream_id"
        ).fetchall()
        assert len(rows) == 6 and all(n == seqs == 1501 for _, n, seqs in rows)
    # each process read a history that already held streams of the others
    assert any(set(r["seen"]) - {name} for r, name in zip(results, ["alpha", "beta", "gamma"]))
    print(f"3 processes x 2 streams x 1500 events in {elapsed:.2f} s")


def test_a_reader_waits_for_a_busy_writer_instead_of_failing(tmp_path):
    path = tmp_path / "busy.duckdb"
    writer = Store(path)
    sid = writer.create_stream(provider="p", model="m")
    writer.append(sid, {"t": 0.0, "type": "text", "text": "hello"})
    writer.flush()  # the writer process now holds the file
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys; sys.path.insert(0, {SRC!r})
            from streamwidget import Store
            store = Store({str(path)!r})
            print(store.get({sid!r}).text)
            store.close()
        """),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "hello"
    writer.append(sid, {"t": 0.1, "type": "finish", "reason": "stop"})
    writer.close()


def test_a_stream_of_a_live_process_is_not_taken_for_an_orphan(tmp_path):
    path = tmp_path / "live.duckdb"
    writer = Store(path)
    sid = writer.create_stream(provider="p", model="m")
    writer.append(sid, {"t": 0.0, "type": "text", "text": "still going"})
    writer.flush()
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys; sys.path.insert(0, {SRC!r})
            from streamwidget import Store
            store = Store({str(path)!r})
            print(store.recovered, store.get({sid!r}).status)
            store.close()
        """),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.stdout.strip() == "[] streaming", other.stderr
    writer.close()


@pytest.mark.slow
def test_two_real_kernels_stream_and_read_history_at_once(tmp_path):
    jupyter_client = pytest.importorskip("jupyter_client")
    env = {
        **os.environ,
        "STREAMWIDGET_STORE": str(tmp_path / "kernels.duckdb"),
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    kernels = []
    try:
        for _ in range(2):
            km = jupyter_client.KernelManager(kernel_name="python3")
            km.start_kernel(env=env)
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            kernels.append((km, kc))
        code = textwrap.dedent("""
            import streamwidget as sw
            view = sw.replay("markdown-tour", speed=40)
            doc = await view.handle
            history = sw.default_store().streams(limit=100)
            print(doc.status, len(doc.text), len(history))
        """)
        ids = [kc.execute(code) for _, kc in kernels]  # both run at the same time
        outputs = [_collect(kc, msg_id) for (_, kc), msg_id in zip(kernels, ids)]
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    expected = len(streamwidget.Recording.bundled("markdown-tour").document().text)
    for out in outputs:
        assert "Error" not in out, out
        status, chars, history = out.split()
        assert status == "complete" and int(chars) == expected and int(history) >= 1
    with Store(tmp_path / "kernels.duckdb") as store:
        assert [s["status"] for s in store.streams()] == ["complete", "complete"]


def _collect(kc, msg_id, timeout=120):
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("Error: " + msg["content"]["evalue"])
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)
    raise TimeoutError("kernel did not finish")
