"""Widgets follow the store; they never write to it."""

from .stream_view import StreamView

__all__ = ["StreamView"]
