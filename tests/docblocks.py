"""The ```python blocks of markdown files, with the marks that say how to run them.

A mark is an HTML comment on the line just before a block:

``<!-- skip: REASON -->``            never run; reported as skipped with REASON
``<!-- requires: VAR [VAR...] -->``  run only when these environment variables are set
``<!-- script -->``                  plain Python outside any event loop (no top-level await),
                                     as in a script: e.g. ``handle.wait()``
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*(?P<kind>skip|requires|script)\b:?\s*(?P<what>.*?)\s*-->\s*$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None = None  # a reason: never run
    requires: str | None = None  # environment variables: run only when all are set
    script: bool = False  # run outside the event loop


def parse_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a markdown file, with the mark on the line before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening or not opening["lang"]:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not re.match(rf"^{opening['indent']}```\s*$", lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.name}:{i + 1}: a code block is never closed")
        if opening["lang"] == "python":
            block = Block(path, i + 1, textwrap.dedent("\n".join(lines[i + 1 : end])))
            mark = _MARK.match(lines[i - 1]) if i else None
            if mark and mark["kind"] == "script":
                block.script = True
            elif mark:
                if not mark["what"]:
                    raise ValueError(f"{path.name}:{i}: '{mark['kind']}:' needs a value")
                setattr(block, mark["kind"], mark["what"])
            blocks.append(block)
        i = end + 1
    return blocks
