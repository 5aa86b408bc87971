"""Widgets follow the store; they never write to it."""

from .chat import Chat
from .compare import Compare
from .player import Player
from .stream_view import StreamView

__all__ = ["Chat", "Compare", "Player", "StreamView"]
