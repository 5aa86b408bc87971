"""Import: ``.jsonl`` recordings and ``.parquet`` exports (files, or folders of them) into a
store, without duplicates; and what import and export share (errors, progress, the store).
See :mod:`streamwidget.transfer` for the formats and the rules; it re-exports these names."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from .recording import Recording, RecordingError
from .store.imports import IMPORT_BATCH

if TYPE_CHECKING:
    from .store import Store

#: ``progress(done, total, label)``: called as files or streams are processed.
Progress = Callable[[int, int, str], None]


class TransferError(ValueError):
    """An import or export cannot go ahead; the message says why."""


class BadLinesError(TransferError):
    """Files to import have bad lines; :attr:`problems` lists each one. Nothing was imported."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"{len(problems)} bad line(s); nothing was imported (pass skip_bad=True, or "
            f"--skip-bad on the command line, to import the good lines):\n{listing}"
        )


@dataclass
class Problem:
    """One bad line (or a whole unreadable file: ``line`` is then the header line or None)."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}, line {self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


@dataclass
class ImportResult:
    """What an import did: new stream ids, ids already in the store, and skipped lines."""

    imported: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def stream_ids(self) -> list[str]:
        return self.imported + self.duplicates


#: Files, folders, or a list of them.
Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


class ImportOptions(TypedDict, total=False):
    """The options every import takes (see :func:`import_paths`)."""

    store: Store | None
    skip_bad: bool
    progress: Progress | None


def import_paths(
    paths: Paths,
    *,
    store: Store | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``.jsonl`` recordings and ``.parquet`` exports (files, or folders of them).

    Every file is read first: with a bad line anywhere, nothing is imported (unless
    ``skip_bad``), so an import never stops half way.
    """
    loaded: list[Recording] = []
    problems: list[Problem] = []
    for path in _expand(paths):
        more, bad = (_read_parquet if path.suffix == ".parquet" else _read_jsonl)(path)
        loaded.extend(more)
        problems.extend(bad)
    if problems and not skip_bad:
        raise BadLinesError(problems)
    store = _store(store)
    result = ImportResult(problems=problems)
    for start in range(0, len(loaded), IMPORT_BATCH):
        batch = loaded[start : start + IMPORT_BATCH]
        for outcome in store.import_recordings(batch):
            (result.imported if outcome.written else result.duplicates).append(outcome.stream_id)
        if progress:
            progress(start + len(batch), len(loaded), batch[-1].source)
    return result


def import_jsonl(paths: Paths, **options: Unpack[ImportOptions]) -> ImportResult:
    """Import recording files (a folder means every ``.jsonl`` in it)."""
    return import_paths(paths, **options)


def import_parquet(path: str | os.PathLike[str], **options: Unpack[ImportOptions]) -> ImportResult:
    """Import every stream of a Parquet file that ``export_parquet`` wrote."""
    if Path(path).suffix != ".parquet":
        raise TransferError(f"{os.fspath(path)}: expected a .parquet file")
    return import_paths(path, **options)


def _read_jsonl(path: Path) -> tuple[list[Recording], list[Problem]]:
    try:
        recording = Recording.load(path, strict=False)
    except RecordingError as exc:
        return [], [Problem(exc.source, exc.line, exc.reason)]
    return [recording], [Problem(str(path), p.line, p.message) for p in recording.problems]


def _read_parquet(path: Path) -> tuple[list[Recording], list[Problem]]:
    import duckdb

    source = os.fspath(path)
    if not path.is_file():
        return [], [Problem(source, None, "no such file")]
    scratch = duckdb.connect(":memory:")
    try:
        rows = scratch.execute(
            "SELECT stream_id, seq, t, type, payload, header FROM read_parquet(?)", [source]
        ).fetchall()
    except duckdb.Error as exc:
        return [], [Problem(source, None, f"not a streamwidget Parquet export ({exc})")]
    finally:
        scratch.close()
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    loaded: list[Recording] = []
    problems: list[Problem] = []
    for sid, group in grouped.items():
        group.sort(key=lambda r: -1 if r[1] is None else r[1])
        lines = [group[0][5] or ""]
        for _, seq, t, kind, payload, _ in group:
            if seq is not None:
                event = {"t": t, "type": kind, **json.loads(payload or "{}")}
                lines.append(json.dumps(event, ensure_ascii=False))
        # Each stream reads like a recording: its event with seq k is "line" k + 2.
        where = f"{source}#{sid}"
        try:
            recording = Recording.loads("\n".join(lines), source=where, strict=False)
        except RecordingError as exc:
            problems.append(Problem(where, exc.line, exc.reason))
            continue
        problems.extend(Problem(where, p.line, p.message) for p in recording.problems)
        loaded.append(recording)
    return loaded, problems


def _expand(paths: Any) -> list[Path]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix in (".jsonl", ".parquet"))
            if not found:
                raise TransferError(f"{item}: no .jsonl or .parquet files in this folder")
            files.extend(found)
        else:
            files.append(item)
    return files


def _store(store: Store | None) -> Store:
    from .store import default_store

    return store if store is not None else default_store()
