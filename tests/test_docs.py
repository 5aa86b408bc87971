"""The docs run: every ```python block in README.md and docs/*.md is a test.

Blocks of one file run in order, in one namespace, inside a coroutine on one event loop per
file (as in a notebook, where cells run on the kernel's loop), so top-level ``await`` works
and streams started in one block go on in the next. Each file gets a throwaway store
(``STREAMWIDGET_STORE`` in a temp folder, which is also the working directory).

A block that cannot run here, or runs as a script, is marked by an HTML comment on the line
just before it (see tests/docblocks.py): ``<!-- skip: REASON -->`` (reported as skipped with
REASON), ``<!-- requires: OPENAI_API_KEY -->``, ``<!-- script -->`` (no event loop).

Running one block (``-k``) first runs the blocks before it in its file.
"""

from __future__ import annotations

import ast
import asyncio
import linecache
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from docblocks import Block, parse_blocks

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class FileRun:
    """One markdown file's blocks run as notebook cells: one namespace, one loop, one store."""

    blocks: list[Block]
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sw-docs-")))
    namespace: dict[str, Any] = field(default_factory=lambda: {"__name__": "__main__"})
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    done: dict[int, str] = field(default_factory=dict)  # index -> "ok" | "failed" | "skipped"

    def run_through(self, index: int) -> None:
        """Run the blocks before ``index`` that have not run, then block ``index``."""
        for i in range(index):
            if i not in self.done:
                self._run_quietly(i)
        failed = [self.blocks[i].line for i in range(index) if self.done[i] == "failed"]
        if failed:
            self.done[index] = "skipped"
            pytest.skip(f"an earlier block of this file failed (line {failed[0]})")
        self._run(index)

    def _run_quietly(self, index: int) -> None:
        try:
            self._run(index)
        except pytest.skip.Exception:
            pass
        except Exception:
            pass  # recorded as failed; that block's own test shows the error

    def _run(self, index: int) -> None:
        block = self.blocks[index]
        filename = f"{_shown(block.path)}:{block.line}"
        self.done[index] = "skipped"
        if block.skip:
            pytest.skip(f"{filename}: {block.skip}")
        missing = [name for name in (block.requires or "").split() if not os.environ.get(name)]
        if missing:
            pytest.skip(f"{filename}: needs {' and '.join(missing)}")
        self.done[index] = "failed"
        # Line numbers in tracebacks are the markdown file's.
        source = "\n" * block.line + block.code
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        if block.script:  # as a script would: no running event loop
            exec(compile(source, filename, "exec"), self.namespace)
            self.done[index] = "ok"
            return
        code = compile(source, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)

        async def cell() -> None:
            result = eval(code, self.namespace)
            if asyncio.iscoroutine(result):
                await result

        self.loop.run_until_complete(cell())
        self.done[index] = "ok"

    def close(self) -> None:
        """Let what the blocks started finish (as a notebook would), then close the loop."""
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        if pending:
            self.loop.run_until_complete(asyncio.wait(pending, timeout=30))
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _params() -> list[Any]:
    params = []
    for path in DOC_FILES:
        for index, block in enumerate(parse_blocks(path)):
            name = f"{_shown(path)}:{block.line}"
            params.append(pytest.param(path, index, id=name))
    return params


@pytest.fixture(scope="module")
def runs() -> Any:
    from streamwidget.store import core as store_module

    by_file: dict[Path, FileRun] = {}
    yield by_file
    for run in by_file.values():
        run.close()
    if store_module._default is not None:
        store_module._default.close()
    for run in by_file.values():
        shutil.rmtree(run.folder, ignore_errors=True)


@pytest.mark.parametrize(("path", "index"), _params())
def test_doc_block(
    path: Path, index: int, runs: dict[Path, FileRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamwidget.store import core as store_module

    if path not in runs:
        if store_module._default is not None:  # the process-wide store of an earlier file
            store_module._default.close()
        runs[path] = FileRun(parse_blocks(path))
    run = runs[path]
    monkeypatch.setenv("STREAMWIDGET_STORE", str(run.folder / "store.duckdb"))
    monkeypatch.chdir(run.folder)
    run.run_through(index)


def test_every_doc_file_is_seen_and_marks_parse(tmp_path: Path) -> None:
    """The collector finds blocks where they are, marks included, and no other languages."""
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n\n<!-- skip: needs a server -->\n```python\n"
        "y = 2\n```\n```bash\nls\n```\n- item\n\n  <!-- requires: SOME_KEY -->\n  ```python\n"
        "  z = await f()\n  ```\n<!-- script -->\n```python\nw = 3\n```\n",
        encoding="utf-8",
    )
    blocks = parse_blocks(page)
    assert [(b.line, b.code, b.skip, b.requires) for b in blocks] == [
        (2, "x = 1", None, None),
        (7, "y = 2", "needs a server", None),
        (16, "z = await f()", None, "SOME_KEY"),
        (20, "w = 3", None, None),
    ]
    assert [b.script for b in blocks] == [False, False, False, True]
    assert any(parse_blocks(ROOT / "README.md"))


def test_a_failing_block_fails_and_later_blocks_skip(tmp_path: Path) -> None:
    """A block that raises fails with its markdown line; blocks after it are skipped."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nimport asyncio\nvalue = await asyncio.sleep(0, result=41)\n```\n"
        "```python\nassert value == 42, value\n```\n```python\nvalue\n```\n",
        encoding="utf-8",
    )
    run = FileRun(parse_blocks(page))
    try:
        run.run_through(0)
        assert run.namespace["value"] == 41
        with pytest.raises(AssertionError, match="41"):
            run.run_through(1)
        with pytest.raises(pytest.skip.Exception, match="earlier block"):
            run.run_through(2)
    finally:
        run.close()


def test_every_sw_name_in_the_docs_exists() -> None:
    """Each ``sw.NAME`` the README or docs mention (code, prose, tables) is exported."""
    import streamwidget as sw

    mentioned: dict[str, str] = {}
    for path in DOC_FILES:
        for name in re.findall(r"\bsw\.([A-Za-z_]\w*)", path.read_text(encoding="utf-8")):
            mentioned.setdefault(name, _shown(path))
    assert {"ask", "replay", "tool", "Chat", "Store"} <= set(mentioned)
    missing = {name: where for name, where in mentioned.items() if not hasattr(sw, name)}
    assert not missing, f"named in the docs but not in streamwidget: {missing}"
    assert set(sw.__all__) <= set(dir(sw))


def test_every_cli_command_in_the_docs_exists() -> None:
    """The commands the README's Pieces table lists are the CLI's commands."""
    from streamwidget.cli import parser

    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    line = next(ln for ln in lines if ln.startswith("| `streamwidget "))
    listed = re.match(r"\| `streamwidget ([^`]+)`", line)[1].split(" / ")
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert listed and set(listed) <= set(commands), (listed, sorted(commands))
