"""Analytics: SQL views over the store, and :func:`stats` to read them.

:func:`install_views` creates, in the store's DuckDB (so any DuckDB client sees them)::

    stream_metrics   one row per stream: TTFT, duration, output tokens, tokens/s,
                     inter-event gap p50/p95/max, stalls, tool calls and failures
    tool_metrics     one row per tool call: name, status, duration, run time, error
    model_metrics    one row per (provider, model): counts, TTFT p50/p95, tokens/s, stalls, ...

and table macros of the same names prefixed ``streamwidget_`` that take the stall threshold
(``SELECT * FROM streamwidget_stream_metrics(stall_threshold := 1.0)``). The views use the
default threshold, :data:`~streamwidget.seek.STALL_THRESHOLD` (0.5 s).

Definitions match :func:`streamwidget.seek.timing` (the tests compare the two):

- ``ttft``: ``t`` of the first ``text`` event; ``duration``: ``t`` of the last event.
- ``output_tokens``: ``usage.output_tokens`` when the provider reported it
  (``tokens_source = 'usage'``), else the number of ``text`` events (``'events'``).
- ``tokens_per_s = output_tokens / (duration - ttft)``, as in the StreamView header.
- gaps: the time between consecutive events, except waits that end in a ``tool_result``
  (time a tool ran; see ``tool_metrics.run_time``). A stall is a gap over the threshold.
- ``tool_metrics.duration``: from the model starting the call to its result (as the tool cards
  show); ``run_time``: from the tool starting (``tool_status`` running, else the end of the
  arguments) to its result. ``failed``: status ``error`` or ``denied``.

Replays are streams too: their provider is ``replay`` (the model is the recorded one), so
model roll-ups keep them apart from live runs.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from .seek import STALL_THRESHOLD

if TYPE_CHECKING:
    import duckdb

    from .store import Store

_STREAM_MACRO = """
CREATE OR REPLACE MACRO streamwidget_stream_metrics(stall_threshold := {threshold}, ids := NULL)
AS TABLE
WITH ev AS (
    SELECT stream_id, seq, t, type,
           t - lag(t) OVER (PARTITION BY stream_id ORDER BY seq) AS gap
    FROM events WHERE ids IS NULL OR list_contains(ids, stream_id)
), agg AS (
    SELECT stream_id,
           count(*) AS events,
           min(t) FILTER (WHERE type = 'text') AS ttft,
           arg_max(t, seq) AS duration,
           count(*) FILTER (WHERE type = 'text') AS text_events,
           quantile_cont(gap, 0.5) FILTER (WHERE type <> 'tool_result') AS gap_p50,
           quantile_cont(gap, 0.95) FILTER (WHERE type <> 'tool_result') AS gap_p95,
           max(gap) FILTER (WHERE type <> 'tool_result') AS gap_max,
           count(*) FILTER (WHERE type <> 'tool_result' AND gap > stall_threshold) AS stalls,
           coalesce(sum(gap) FILTER (WHERE type <> 'tool_result' AND gap > stall_threshold), 0)
               AS stall_time
    FROM ev GROUP BY stream_id
), tools AS (
    SELECT stream_id, count(*) AS tool_calls, count(*) FILTER (WHERE failed) AS tool_failures
    FROM streamwidget_tool_metrics(ids := ids) GROUP BY stream_id
), base AS (
    SELECT s.id AS stream_id, s.conversation_id, s.created_at, s.provider, s.model, s.status,
           s.finish_reason, s.error->>'kind' AS error_kind,
           coalesce(a.events, 0) AS events, a.ttft, coalesce(a.duration, 0.0) AS duration,
           coalesce(a.text_events, 0) AS text_events,
           TRY_CAST(s.usage->>'output_tokens' AS BIGINT) AS usage_tokens,
           TRY_CAST(s.usage->>'input_tokens' AS BIGINT) AS input_tokens,
           a.gap_p50, a.gap_p95, a.gap_max, coalesce(a.stalls, 0) AS stalls,
           coalesce(a.stall_time, 0.0) AS stall_time,
           coalesce(tl.tool_calls, 0) AS tool_calls, coalesce(tl.tool_failures, 0) AS tool_failures
    FROM streams s
    LEFT JOIN agg a ON a.stream_id = s.id
    LEFT JOIN tools tl ON tl.stream_id = s.id
    WHERE ids IS NULL OR list_contains(ids, s.id)
)
SELECT stream_id, conversation_id, created_at, provider, model, status, finish_reason,
       error_kind, events, ttft, duration, text_events,
       coalesce(usage_tokens, text_events) AS output_tokens,
       CASE WHEN usage_tokens IS NULL THEN 'events' ELSE 'usage' END AS tokens_source,
       input_tokens,
       CASE WHEN ttft IS NOT NULL AND duration > ttft
            THEN coalesce(usage_tokens, text_events) / (duration - ttft) END AS tokens_per_s,
       gap_p50, gap_p95, gap_max, stalls, stall_time, tool_calls, tool_failures
FROM base
"""

_TOOL_MACRO = """
CREATE OR REPLACE MACRO streamwidget_tool_metrics(ids := NULL) AS TABLE
WITH calls AS (
    SELECT s.id AS stream_id, s.provider, s.model, c.id AS call_id, c.name, c.status,
           c.error, c.started_at, c.ended_at
    FROM streams s, unnest(from_json(coalesce(s.tool_calls, '[]'),
        '[{"id": "VARCHAR", "name": "VARCHAR", "status": "VARCHAR", "error": "VARCHAR",
           "started_at": "DOUBLE", "ended_at": "DOUBLE"}]')) AS u(c)
    WHERE ids IS NULL OR list_contains(ids, s.id)
), marks AS (
    SELECT stream_id, payload->>'id' AS call_id,
           min(t) FILTER (WHERE type = 'tool_call_end') AS args_done_at,
           min(t) FILTER (WHERE type = 'tool_status' AND payload->>'status' = 'running')
               AS running_at
    FROM events WHERE type IN ('tool_call_end', 'tool_status')
        AND (ids IS NULL OR list_contains(ids, stream_id))
    GROUP BY stream_id, payload->>'id'
)
SELECT c.stream_id, c.provider, c.model, c.call_id, c.name, c.status,
       c.status IN ('error', 'denied') AS failed, c.error, c.started_at, c.ended_at,
       c.ended_at - c.started_at AS duration,
       c.ended_at - coalesce(m.running_at, m.args_done_at) AS run_time
FROM calls c LEFT JOIN marks m ON m.stream_id = c.stream_id AND m.call_id = c.call_id
"""

_MODEL_MACRO = """
CREATE OR REPLACE MACRO streamwidget_model_metrics(stall_threshold := {threshold}) AS TABLE
SELECT provider, model,
       count(*) AS streams,
       count(*) FILTER (WHERE status = 'complete') AS complete,
       count(*) FILTER (WHERE status = 'error') AS errors,
       count(*) FILTER (WHERE status IN ('cancelled', 'interrupted')) AS stopped,
       quantile_cont(ttft, 0.5) AS ttft_p50,
       quantile_cont(ttft, 0.95) AS ttft_p95,
       avg(tokens_per_s) AS tokens_per_s_avg,
       quantile_cont(tokens_per_s, 0.5) AS tokens_per_s_p50,
       sum(output_tokens) AS output_tokens,
       avg(duration) AS duration_avg,
       max(gap_max) AS gap_max,
       sum(stalls) AS stalls,
       sum(tool_calls) AS tool_calls,
       sum(tool_failures) AS tool_failures
FROM streamwidget_stream_metrics(stall_threshold := stall_threshold)
GROUP BY provider, model
"""

_VIEWS = """
CREATE OR REPLACE VIEW tool_metrics AS SELECT * FROM streamwidget_tool_metrics();
CREATE OR REPLACE VIEW stream_metrics AS SELECT * FROM streamwidget_stream_metrics();
CREATE OR REPLACE VIEW model_metrics AS SELECT * FROM streamwidget_model_metrics();
"""

#: ``by`` → (view with the default threshold, macro taking a threshold, order).
_SOURCES = {
    "stream": ("stream_metrics", "streamwidget_stream_metrics", "created_at DESC, stream_id"),
    "model": ("model_metrics", "streamwidget_model_metrics", "streams DESC, provider, model"),
    "tool": ("tool_metrics", None, "stream_id, started_at, call_id"),
}

_installed: weakref.WeakSet[Store] = weakref.WeakSet()


def install_views(store: Store) -> None:
    """Create (or replace) the analytics macros and views in ``store``'s database."""
    threshold = repr(float(STALL_THRESHOLD))
    cursor = store.connection
    try:
        cursor.execute(_TOOL_MACRO)
        cursor.execute(_STREAM_MACRO.format(threshold=threshold))
        cursor.execute(_MODEL_MACRO.format(threshold=threshold))
        cursor.execute(_VIEWS)
    finally:
        cursor.close()
    _installed.add(store)


def stats(
    store: Store | None = None,
    by: Literal["stream", "model", "tool"] = "stream",
    *,
    stall_threshold: float = STALL_THRESHOLD,
    streams: Iterable[str] | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> duckdb.DuckDBPyRelation:
    """Metrics from the store as a DuckDB relation (``.df()`` / ``.pl()`` when pandas or polars
    is installed, ``.fetchall()`` always).

    ``by="stream"``: one row per stream, newest first; ``"model"``: per provider and model;
    ``"tool"``: per tool call. ``stall_threshold`` (seconds) decides which gaps count as
    stalls. ``streams`` (ids), ``status`` and ``limit`` (the newest ``limit``) pick streams in
    the query, so only their events are read: ``stats(limit=20)`` costs the same in a store of
    a million streams as in one of a hundred. ``status`` and ``limit`` apply to ``"stream"``,
    ``streams`` also to ``"tool"``.
    """
    from .store import StoreError, default_store

    if by not in _SOURCES:
        raise ValueError(f"by must be one of {', '.join(map(repr, _SOURCES))}, got {by!r}")
    _check_threshold(stall_threshold)
    if (status is not None or limit is not None) and by != "stream":
        raise ValueError(f"status and limit pick streams: by='stream' only, not {by!r}")
    if streams is not None and by == "model":
        raise ValueError("streams picks streams: by='stream' or 'tool', not 'model'")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be an int >= 0, got {limit!r}")
    store = store if store is not None else default_store()
    if store not in _installed:
        install_views(store)
    view, macro, order = _SOURCES[by]
    picked = streams is not None or status is not None or limit is not None
    ids = _pick(store, streams, status, limit) if picked else None
    params: list[object]
    if macro is None:  # tool calls
        query, params = "SELECT * FROM streamwidget_tool_metrics(ids := $1)", [ids]
    elif by == "model":  # a roll-up of every stream: nothing to pick
        query, params = f"SELECT * FROM {macro}(stall_threshold := $1)", [float(stall_threshold)]
    else:
        query = f"SELECT * FROM {macro}(stall_threshold := $1, ids := $2)"
        params = [float(stall_threshold), ids]
    if not picked and (macro is None or float(stall_threshold) == STALL_THRESHOLD):
        query, params = f"SELECT * FROM {view}", []  # the view: what other clients see
    relation = store.sql(f"{query} ORDER BY {order}", params)
    if relation is None:  # a SELECT always has a result
        raise StoreError(f"the analytics view {view} gave no result")
    return relation


def _check_threshold(stall_threshold: object) -> None:
    if (
        isinstance(stall_threshold, bool)
        or not isinstance(stall_threshold, (int, float))
        or not math.isfinite(stall_threshold)
        or stall_threshold < 0
    ):
        raise ValueError(f"stall_threshold must be a number >= 0, got {stall_threshold!r}")


def _pick(
    store: Store, streams: Iterable[str] | None, status: str | None, limit: int | None
) -> list[str]:
    """The ids of the newest streams that match, chosen in SQL (the streams table only)."""
    wanted = None if streams is None else [streams] if isinstance(streams, str) else [*streams]
    rows = store.fetchall(
        "SELECT id FROM streams WHERE ($1::VARCHAR IS NULL OR status = $1)"
        " AND ($2::VARCHAR[] IS NULL OR list_contains($2, id))"
        " ORDER BY created_at DESC, id LIMIT $3",
        [status, wanted, limit if limit is not None else 2**62],
    )
    return [str(row[0]) for row in rows]
