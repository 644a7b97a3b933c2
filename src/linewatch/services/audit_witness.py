"""The witness: a verifier's own copy of the log's leaf hashes, up to the last head it checked.

``linewatch audit verify`` checks the log against the witness it holds and, when the log
passes, brings the witness up to the log's new size; ``linewatch audit head --sign-with``
keeps the signed head it publishes there too. So a log whose tail was deleted fails without
``--head`` (the witness holds more entries than the log), and an entry changed after it was
checked, even with its leaf hash recomputed, is named by its index (its leaf is not the one
the witness holds), not by a later tree head.

A witness is a directory of two files: ``head.json`` (the tree head, signed when it was a
published one) and ``leaves.bin`` (the 32-byte leaf hashes of entries ``0 .. size-1``). By
default it sits beside a SQLite store (``<store>.witness``) and, for PostgreSQL, under
``$XDG_STATE_HOME/linewatch/witness/`` (``~/.local/state``), named by the store's URL. Keep
one elsewhere too (``--witness DIR``: another machine, a party's copy, read-only media): a
witness beside the database guards against a changed database, not against whoever can change
both.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from linewatch.audit import HASH_SIZE, MerkleTree, TreeHead, canonical_json
from linewatch.errors import InputError
from linewatch.services.audit import read_json_file

if TYPE_CHECKING:
    from linewatch.store import Store

__all__ = ["Witness", "default_witness"]


@dataclass(frozen=True)
class Witness:
    """The witness directory ``path`` (see the module's text)."""

    path: Path

    @property
    def head_file(self) -> Path:
        return self.path / "head.json"

    @property
    def leaves_file(self) -> Path:
        return self.path / "leaves.bin"

    def load(self) -> tuple[TreeHead, bytes] | None:
        """The head and the leaf hashes it covers; ``None`` if there is no witness yet.
        :class:`InputError` if the witness does not hold together (its leaves do not give its root)."""
        self._check_is_directory()
        if not self.head_file.exists():
            return None
        head = TreeHead.from_dict(read_json_file(self.head_file, "witness tree head"), str(self.head_file))
        try:
            leaves = self.leaves_file.read_bytes()[:head.tree_size * HASH_SIZE]
        except OSError as exc:
            raise InputError(f"{self.leaves_file}: cannot read the witness's leaf hashes: {exc}") from exc
        if len(leaves) != head.tree_size * HASH_SIZE or MerkleTree(leaves).root() != head.root_hash:
            raise InputError(f"{self.path}: the witness is damaged: its {len(leaves) // HASH_SIZE} leaf "
                             f"hashes do not give the root of its head of {head.tree_size} entries")
        return head, leaves

    def save(self, head: TreeHead, leaves: bytes) -> None:
        """Hold ``head`` and the leaves it covers (each file replaced atomically, leaves first:
        the head names how many of them count)."""
        if len(leaves) < head.tree_size * HASH_SIZE:
            raise ValueError(f"a head of {head.tree_size} entries needs as many leaf hashes")
        self._check_is_directory()
        self.path.mkdir(parents=True, exist_ok=True)
        for target, data in ((self.leaves_file, leaves[:head.tree_size * HASH_SIZE]),
                             (self.head_file, canonical_json(head.to_dict()))):
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)


    def _check_is_directory(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path}: is a file, expected the witness's directory (--witness)")


def default_witness(store: Store) -> Witness | None:
    """The witness a store's verifier keeps by default (``None`` for an in-memory store)."""
    path = getattr(store, "path", None)
    if store.dialect == "sqlite":
        if path is None or str(path) == ":memory:":
            return None
        return Witness(Path(f"{path}.witness"))
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    name = hashlib.sha256(store.where.encode("utf-8")).hexdigest()[:16]
    return Witness(Path(state) / "linewatch" / "witness" / name)
