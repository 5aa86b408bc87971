"""Shared fixtures: an isolated store location and a comm that records what widgets send."""

from __future__ import annotations

import json
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """A comm that keeps every message a widget publishes, with its size as JSON."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.messages: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.messages.append({"msg_type": msg_type, "data": data})

    def custom(self) -> list[dict[str, Any]]:
        return [
            m["data"]["content"]
            for m in self.messages
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "custom"
        ]

    def updates(self) -> list[dict[str, Any]]:
        return [
            m["data"]["state"]
            for m in self.messages
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "update"
        ]

    def nbytes(self) -> int:
        """Bytes of the updates and custom messages (the open, which carries the front-end
        module once per widget, is a fixed cost and not counted)."""
        return sum(
            len(json.dumps(m["data"], default=str))
            for m in self.messages
            if m["msg_type"] == "comm_msg"
        )


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    """Every comm a widget opens during the test, recording its messages."""
    opened: list[RecordingComm] = []

    def create(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        opened.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create)
    return opened


@pytest.fixture(autouse=True)
def isolated_store_path(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the user's real store: the default store lives in a temp dir."""
    monkeypatch.setenv(
        "STREAMWIDGET_STORE", str(tmp_path_factory.mktemp("default-store") / "store.duckdb")
    )
