"""The lease of a stream's active consumer, kept alive by a heartbeat thread (docs/streaming.md).

The worker (:mod:`linewatch.services.streaming`) holds the stream under a lease and a fencing
token from :meth:`~linewatch.store.queue_tables.QueueTables.stream_acquire`. A long hour of
fusion must not lose it, so :class:`LeaseHeartbeat` renews it on a connection of its own and
notes when another consumer took the stream over.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid

from linewatch.errors import Conflict, LinewatchError
from linewatch.store import open_store

__all__ = ["LeaseHeartbeat", "default_owner"]


def default_owner() -> str:
    """A consumer's name: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseHeartbeat(threading.Thread):
    """Renews the lease every third of it on a connection of its own, so that an hour of
    fusion longer than the lease does not lose the stream; notes when it was lost."""

    def __init__(self, url: str, name: str, owner: str, fence: int, lease_s: float) -> None:
        super().__init__(daemon=True, name=f"lease:{name}")
        self.url, self.name, self.owner, self.fence, self.lease_s = url, name, owner, fence, lease_s
        self._stop_event = threading.Event()
        self.lost: Conflict | None = None

    def run(self) -> None:
        try:
            store = open_store(self.url)
        except LinewatchError:
            return
        try:
            while not self._stop_event.wait(self.lease_s / 3):
                try:
                    store.stream_check(self.name, self.owner, self.fence, lease_s=self.lease_s)
                except Conflict as exc:
                    self.lost = exc
                    return
                except LinewatchError:
                    continue
        finally:
            store.close()

    def raise_if_lost(self) -> None:
        """Raise the :class:`~linewatch.errors.Conflict` that ended the lease, if it was lost."""
        if self.lost is not None:
            raise self.lost

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
