"""What the web service holds while it runs: the store (one connection per worker thread:
SQLite, one writer at a time, or PostgreSQL), the agreement and network in use, the signing
key and the base map. One :class:`ServiceState` per app, at
``app.state.linewatch``; a route gets it with the dependency ``linewatch.web.deps.State``."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linewatch.errors import NotFound
from linewatch.services import LoadedAgreement
from linewatch.store import Store, open_store


@dataclass(frozen=True)
class ServiceConfig:
    """``store_url`` as for ``--db``; ``network``: the sensor-network file for coverage (by
    default the one the store used last); ``key``: an Ed25519 private key file that signs
    the daily reports the service builds; ``poll_s``: how often the live feed looks for new
    records."""

    store_url: str
    network: Path | None = None
    key: Path | None = None
    poll_s: float = 0.5


class ServiceState:
    """The store (a connection per thread), the agreement and network in use (each loaded once
    per version), the signing key and the base map, for one app."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        self.write_lock = threading.Lock()   # one writer in this process: no busy waits
        self._agreement: tuple[str, LoadedAgreement] | None = None
        self._network: tuple[Path, Any] | None = None
        self._basemap: dict[str, Any] | None = None
        self.store()                          # open (and migrate) now: fail at start, not later

    def store(self) -> Store:
        st = getattr(self._local, "store", None)
        if st is None:
            st = open_store(self.config.store_url)
            self._local.store = st
            with self._lock:
                self._stores.append(st)
        return st

    def close(self) -> None:
        with self._lock:
            for st in self._stores:
                with contextlib.suppress(Exception):
                    st.close()
            self._stores.clear()

    def agreement(self) -> LoadedAgreement | None:
        """The agreement the store used last (parsed once per version)."""
        from linewatch.agreement import parse_agreement
        latest = self.store().latest_agreement()
        if latest is None:
            return None
        name, text = latest
        cached = self._agreement
        if cached is None or cached[0] != text:
            cached = (text, LoadedAgreement(parse_agreement(text, name=name), name, text))
            self._agreement = cached
        return cached[1]

    def require_agreement(self) -> LoadedAgreement:
        loaded = self.agreement()
        if loaded is None:
            raise NotFound("agreement", "in the store (verify or ingest with --agreement first)")
        return loaded

    def network_path(self) -> Path | None:
        if self.config.network is not None:
            return self.config.network
        latest = self.store().latest_network()
        if latest is not None and Path(latest[0]).is_file():
            return Path(latest[0])
        return None

    def network(self) -> Any:
        """The sensor network for coverage, or None when there is none."""
        path = self.network_path()
        if path is None:
            return None
        if self._network is None or self._network[0] != path:
            from linewatch.services import coverage_from_network
            self._network = (path, coverage_from_network(path)[2])
        return self._network[1]

    def signing_key(self) -> Any:
        if self.config.key is None:
            return None
        from linewatch.services.audit import load_private_key
        return load_private_key(self.config.key)

    def basemap(self) -> dict[str, Any]:
        """The base map's countries as GeoJSON (built once)."""
        if self._basemap is None:
            from linewatch.formats.resources import load_boundaries
            from linewatch.web.features import basemap
            self._basemap = basemap(load_boundaries())
        return self._basemap

    def released_days(self) -> set[str]:
        """The days whose daily report is released."""
        return {r["day"] for r in self.store().daily_reports(released_only=True)}


__all__ = ["ServiceConfig", "ServiceState"]
