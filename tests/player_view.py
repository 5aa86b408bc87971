"""A Player's front end as far as text goes, in Python: what player_text.ts does."""

from __future__ import annotations

import itertools

from streamwidget.widgets.player import Player
from streamwidget.widgets.stream_view import utf16_len

_names = itertools.count(1)


def request(player: Player, **content) -> None:
    """What the front end sends (a custom comm message)."""
    player._handle_custom_msg(content, [])


def cut16(text: str, units: int) -> str:
    return text.encode("utf-16-le")[: 2 * units].decode("utf-16-le")


class FakeView:
    """What player.ts's text buffer does: names itself and what it holds in each request, and
    keeps the segments the kernel's replies carry (see widgets/player_text.py)."""

    def __init__(self, player: Player, name: str | None = None):
        self.player, self.name, self.seq = player, name or f"view-{next(_names)}", 0
        self.segments = {"text": (0, ""), "reasoning": (0, "")}
        self.replies: list[dict] = []
        self._others = player.__dict__.get("send")  # another FakeView of the same player
        player.send = self._receive  # what the kernel sends to the front end

    def _receive(self, content: dict, buffers=None) -> None:
        if self._others is not None:
            self._others(content, buffers)
        if content.get("view") != self.name:
            return
        self.replies.append(content)
        for field in self.segments:
            piece = content[field]
            if piece is None:
                continue
            start, text = self.segments[field]
            if piece.get("prepend"):
                assert piece["end"] == start, "a prepend ends where the segment starts"
                self.segments[field] = (piece["start"], piece["text"] + text)
                continue
            if piece["append"]:
                assert piece["start"] == start + utf16_len(text), "appends continue the segment"
                self.segments[field] = (start, text + piece["text"])
            else:
                self.segments[field] = (piece["start"], piece["text"])
            assert utf16_len(self.segments[field][1]) + self.segments[field][0] == piece["end"]

    def ask(self, **content) -> None:
        self.seq += 1
        have = {f: [s, s + utf16_len(t)] for f, (s, t) in self.segments.items()}
        request(self.player, view=self.name, have=have, seq=self.seq, **content)

    def pull(self) -> None:
        """Ask for the text at the position the traits show (after a kernel-side move)."""
        self.ask(kind="text", position=self.player.position)

    def shown(self, field: str = "text") -> tuple[int, str]:
        """Where the text drawn starts (UTF-16) and the text: the segment cut at the cursor."""
        start, text = self.segments[field]
        length = self.player.text_len if field == "text" else self.player.reasoning_len
        assert start <= length <= start + utf16_len(text), "the view holds the cursor's text"
        return start, cut16(text, length - start)
