"""Stores: where records, quarantine rows, verdicts and agreements live.

``open_store(url)`` takes ``sqlite:///path``, a plain path, or (later) ``postgresql://...``.
"""

from __future__ import annotations

from pathlib import Path

from linewatch.errors import StoreError
from linewatch.store.sqlite import SQLiteStore


def open_store(url: str | Path) -> SQLiteStore:
    text = str(url)
    if text.startswith("sqlite:///"):
        return SQLiteStore(text[len("sqlite:///"):])
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(f"store URL {text!r}: unsupported scheme {scheme!r} (use sqlite:///PATH)")
    return SQLiteStore(text)


__all__ = ["SQLiteStore", "open_store"]
