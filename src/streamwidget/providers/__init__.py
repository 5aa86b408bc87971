"""Providers turn a model's wire format (or a recording) into normalized events."""

from .base import ChatRequest, Provider
from .replay import ReplayProvider

__all__ = ["ChatRequest", "Provider", "ReplayProvider"]
