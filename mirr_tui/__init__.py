"""MIRR: an incident-response game and agent playground for the terminal."""

from __future__ import annotations

__version__ = "0.1.0"
