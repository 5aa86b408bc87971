"""Shared pieces of the benchmarks: result rows, the machine description, the environment
children run in, and a real kernel whose iopub traffic is counted byte by byte.

Each ``bench_*.py`` script writes one JSON file (``--json PATH``) holding ``rows`` (what the
runner's table shows) and ``data`` (everything measured, for the plot and for digging in).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SRC = REPO / "src"
# The working tree is what gets measured, here and in every kernel (see child_env).
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


# --- result rows ------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is ``baseline / value`` for costs (higher: streamwidget does better), filled in
    by :func:`row`. ``passed`` is None where there is no target to meet.
    """

    section: str
    what: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    note: str = ""


def row(section: str, what: str, value: float | None, unit: str, **kw: Any) -> dict[str, Any]:
    item = Row(section, what, value, unit, **kw)
    if item.ratio is None and item.baseline is not None and value:
        item.ratio = item.baseline / value
    return asdict(item)


def parse_args(description: str, *extra: tuple[str, dict[str, Any]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="write the results here (default: stdout)")
    for flag, options in extra:
        parser.add_argument(flag, **options)
    return parser.parse_args()


def emit(args: argparse.Namespace, rows: list[dict[str, Any]], data: dict[str, Any]) -> None:
    result = {"rows": rows, "data": data}
    text = json.dumps(result, indent=1, default=str)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    else:
        print(text)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the machine and the environment ----------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for name in ("duckdb", "ipykernel", "ipywidgets", "anywidget", "jupyterlab", "jupyter_client"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = "?"
    chromium = ""
    if shutil.which("chromium"):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            chromium = subprocess.run(
                ["chromium", "--version"], capture_output=True, text=True, timeout=20
            ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "chromium": chromium,
        **versions,
    }


def child_env(**extra: str) -> dict[str, str]:
    """The environment for kernels and subprocesses: this checkout's ``src`` comes first, so
    the working tree is what gets measured."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SRC), str(HERE), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


# --- a real kernel, iopub counted -------------------------------------------------------------


@dataclass
class Msg:
    """One iopub message as it arrived: when, what, how many bytes on the wire."""

    t: float
    msg_type: str
    nbytes: int
    parent: str
    info: dict[str, Any] = field(default_factory=dict)


def in_fresh_python(code: str, *args: str, timeout: float = 300) -> dict[str, Any]:
    """Run ``code`` (with ``args`` as ``sys.argv[1:]``) in a fresh interpreter; the JSON object
    its last printed line holds."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summarize(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """The few fields the benchmarks look at (the reader must keep up with a flood)."""
    if msg_type == "status":
        return {"state": content.get("execution_state")}
    if msg_type == "comm_open":
        state = (content.get("data") or {}).get("state") or {}
        return {
            "comm_id": content.get("comm_id"),
            "model": state.get("_model_name"),
            "esm_bytes": len(str(state.get("_esm", "")).encode()),
        }
    if msg_type == "comm_msg":
        data = content.get("data") or {}
        info: dict[str, Any] = {"comm_id": content.get("comm_id"), "method": data.get("method")}
        if data.get("method") == "custom":
            body = data.get("content") or {}
            info["kind"] = body.get("kind")
            if body.get("kind") == "delta":
                info.update(field=body.get("field"), at=body.get("at"), text=body.get("text", ""))
        elif data.get("method") == "update":
            info["keys"] = sorted((data.get("state") or {}).keys())
        return info
    if msg_type == "stream":
        return {"name": content.get("name"), "text": content.get("text", "")[:2000]}
    if msg_type == "error":
        return {"ename": content.get("ename"), "evalue": content.get("evalue")}
    if msg_type in ("display_data", "update_display_data", "execute_result"):
        return {"mimetypes": sorted((content.get("data") or {}).keys())}
    return {}


class IopubRecorder(threading.Thread):
    """Reads a kernel's iopub on a SUB socket of its own (no high-water mark: nothing is
    dropped on our side) and keeps a :class:`Msg` per message."""

    def __init__(self, url: str):
        super().__init__(name="iopub-recorder", daemon=True)
        import zmq

        self.zmq = zmq
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.linger = 0
        self.socket.connect(url)
        self.messages: list[Msg] = []
        self.lock = threading.Lock()
        self.stopped = False
        self.last_arrival = time.monotonic()

    def run(self) -> None:
        poller = self.zmq.Poller()
        poller.register(self.socket, self.zmq.POLLIN)
        while not self.stopped:
            if not poller.poll(100):
                continue
            frames = self.socket.recv_multipart(copy=True)
            now = time.monotonic()
            self.last_arrival = now
            try:
                delim = frames.index(b"<IDS|MSG>")
            except ValueError:
                continue
            header = json.loads(frames[delim + 2])
            parent = json.loads(frames[delim + 3])
            msg_type = header.get("msg_type", "?")
            try:
                content = json.loads(frames[delim + 5])
            except (ValueError, IndexError):
                content = {}
            msg = Msg(
                now,
                msg_type,
                sum(len(f) for f in frames),
                parent.get("msg_id", ""),
                _summarize(msg_type, content),
            )
            with self.lock:
                self.messages.append(msg)

    def take(self) -> list[Msg]:
        with self.lock:
            out, self.messages = self.messages, []
        return out

    def close(self) -> None:
        self.stopped = True
        self.join(2)
        self.socket.close()
        self.context.term()


class KernelError(RuntimeError):
    pass


class Kernel:
    """A python kernel started through jupyter_client, as a notebook server would."""

    def __init__(self, env: dict[str, str] | None = None):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        self._dir = Path(tempfile.mkdtemp(prefix="swbench-kernel-"))
        spec_dir = self._dir / "kernels" / "swbench"
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "streamwidget bench",
                    "language": "python",
                }
            )
        )
        ksm = KernelSpecManager(kernel_dirs=[str(self._dir / "kernels")])
        self.km = KernelManager(kernel_name="swbench", kernel_spec_manager=ksm)
        self.km.connection_file = str(self._dir / "connection.json")
        self.km.start_kernel(env=env or child_env(), cwd=str(self._dir))
        self.pid = self.km.provisioner.pid if self.km.provisioner else None
        self.kc = self.km.client()
        self.kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        self.iopub = IopubRecorder(self.km._make_url("iopub"))
        self.iopub.start()
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self.kc.execute("pass", store_history=False)
            self._reply(msg_id, 30)
            end = time.monotonic() + 1
            while time.monotonic() < end:
                if any(m.parent == msg_id for m in self.iopub.messages):
                    self.iopub.take()
                    return
                time.sleep(0.02)
        raise KernelError("the kernel did not answer on iopub")

    def _reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no execute_reply within {timeout}s")
            try:
                msg = self.kc.get_shell_msg(timeout=remaining)
            except Exception as exc:  # queue.Empty
                raise TimeoutError(f"no execute_reply within {timeout}s") from exc
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]

    def run(self, code: str, *, timeout: float = 300, expr: str | None = None) -> Any:
        """Execute ``code``; wait for its reply and for iopub to go quiet. Returns the value
        of ``expr`` (a Python expression whose value is a JSON string), if given."""
        expressions = {"r": expr} if expr else {}
        msg_id = self.kc.execute(code, store_history=False, user_expressions=expressions)
        content = self._reply(msg_id, timeout)
        if content.get("status") != "ok":
            raise KernelError(
                f"{content.get('ename')}: {content.get('evalue')}\n"
                + "\n".join(content.get("traceback", []))
            )
        self.wait_idle(msg_id)
        if not expr:
            return None
        result = content["user_expressions"]["r"]
        if result.get("status") != "ok":
            raise KernelError(f"{result.get('ename')}: {result.get('evalue')}")
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    def wait_idle(self, msg_id: str, quiet: float = 0.3, timeout: float = 120) -> None:
        """Until the kernel said idle for ``msg_id`` and nothing came for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        idle = False
        while time.monotonic() < deadline:
            if not idle:
                with self.iopub.lock:
                    idle = any(
                        m.parent == msg_id and m.info.get("state") == "idle"
                        for m in self.iopub.messages
                    )
            if idle and time.monotonic() - self.iopub.last_arrival >= quiet:
                return
            time.sleep(0.02)
        raise TimeoutError(f"iopub did not go quiet within {timeout}s")

    def close(self) -> None:
        self.iopub.close()
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def traffic(messages: list[Msg]) -> dict[str, Any]:
    """Messages and bytes by type, and by comm method for comm messages."""
    count: Counter[str] = Counter()
    size: Counter[str] = Counter()
    for m in messages:
        key = m.msg_type
        if m.msg_type == "comm_msg":
            key = f"comm_msg/{m.info.get('method')}"
            if m.info.get("method") == "custom":
                key += f"/{m.info.get('kind')}"
        count[key] += 1
        size[key] += m.nbytes
    return {"messages": dict(count), "bytes": dict(size)}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def fmt(value: float | None, digits: int = 3) -> str:
    """A number as people read it: 3 significant digits, thousands separated."""
    if value is None:
        return "—"
    if isinstance(value, float) and value != value:
        return "n/a"
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = max(0, digits - 1 - int(f"{magnitude:e}".split("e")[1]))
    return f"{value:,.{decimals}f}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def emit_skipped(args: argparse.Namespace, reason: str) -> None:
    """Nothing was measured (a tool is missing): the runner shows ``skipped: reason``."""
    log(f"skipped: {reason}")
    result = {"skipped": reason, "rows": [], "data": {}}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result))
    else:
        print(json.dumps(result))
