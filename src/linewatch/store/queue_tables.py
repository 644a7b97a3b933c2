"""The fusion queue (table ``fusion_queue``, migration ``0005_detections``): what feeds fusion
as detections arrive (:mod:`linewatch.streaming`).

:class:`QueueTables` is mixed into :class:`~linewatch.store.base.Store`.
"""

from __future__ import annotations


class QueueTables:
    conn: object
    dialect: str
