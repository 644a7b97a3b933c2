"""Checking a whole log as it streams past, entry by entry, in O(log n) memory.

The store hands over each entry as its columns spell it (:class:`StoredEntry`: nothing
re-parsed, so every byte counts); :class:`LogScan` recomputes every leaf, checks ``supersedes``
and (with keys) every signature, and keeps the roots at the sizes that tree heads claim.
:meth:`LogScan.result` then checks the tree heads logged in the log and those held elsewhere,
and names the earliest entry that does not match (:class:`~linewatch.audit.proofs.VerifyResult`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linewatch.audit import merkle
from linewatch.audit.entries import (
    ENTRY_FORMAT,
    SIGNED_TYPES,
    AuditEntry,
    TreeHead,
    canonical_json,
    sha256_hex,
    verify_signature,
)
from linewatch.audit.proofs import Problem, VerifyResult, entry_where
from linewatch.errors import InputError

#: At most this many problems are kept (all are counted).
MAX_PROBLEMS = 100

__all__ = ["MAX_PROBLEMS", "LogScan", "StoredEntry", "claimed_head_size"]


class StoredEntry(NamedTuple):
    """One row of the log as its columns spell it (text decoded, bytes as stored).

    ``supersedes`` is whatever the column holds: a changed database may hold anything there.
    """

    idx: int
    entry_type: str
    subject_id: str
    payload: bytes
    supersedes: object
    appended_at: str
    key_id: str | None
    signature: str | None
    leaf_hash: bytes

    def leaf_data(self) -> bytes:
        """The leaf exactly as the stored columns spell it (no re-parsing: every byte counts)."""
        return canonical_json({"format": ENTRY_FORMAT, "version": 1, "index": self.idx,
                               "type": self.entry_type, "subject_id": self.subject_id,
                               "payload_sha256": sha256_hex(self.payload), "supersedes": self.supersedes,
                               "appended_at": self.appended_at, "key_id": self.key_id,
                               "signature": self.signature})

    def entry(self) -> AuditEntry:
        """The entry as a value; :class:`ValueError` or :class:`TypeError` if a column cannot be read."""
        sup = self.supersedes
        if sup is not None and not isinstance(sup, int):
            raise TypeError(f"supersedes {sup!r:.40} is not an entry index")
        return AuditEntry(self.idx, self.entry_type, self.subject_id, sha256_hex(self.payload), sup,
                          datetime.fromisoformat(self.appended_at), self.key_id,
                          None if self.signature is None else bytes.fromhex(self.signature))


def claimed_head_size(payload: bytes) -> int | None:
    """The size a logged tree head claims, or ``None`` if it is garbled (reported with its entry).

    >>> claimed_head_size(b'{"tree_size": 14}'), claimed_head_size(b"garbled")
    (14, None)
    """
    try:
        return int(json.loads(payload)["tree_size"])
    except (ValueError, KeyError, TypeError):
        return None


def _check_logged_head(idx: int, subject: str, payload: bytes, roots: Mapping[int, bytes],
                       keys: Mapping[str, Ed25519PublicKey], problems: list[Problem]) -> None:
    """A ``tree_head`` entry must hold the root that the entries before it give now."""
    where = entry_where(idx, "tree_head", subject)
    try:
        head = TreeHead.from_dict(json.loads(payload), "payload")
    except (ValueError, InputError) as exc:
        problems.append(Problem(where, f"the payload is not a tree head: {exc}", idx, subject))
        return
    if head.tree_size > idx:
        problems.append(Problem(where, f"a head of {head.tree_size} entries logged at index {idx}",
                                idx, subject))
    elif roots.get(head.tree_size) != head.root_hash:
        problems.append(Problem(where, f"the signed root of the first {head.tree_size} entries is "
                                f"{head.root_hash.hex()}, the log's is now "
                                f"{roots.get(head.tree_size, b'').hex() or 'unknown'}: "
                                f"an entry before {head.tree_size} was changed", idx, subject))
    if keys:
        key = keys.get(head.key_id or "")
        why = "signed with a key not among the given keys" if key is None else head.check_signature(key)
        if why is not None:
            problems.append(Problem(where, why, idx, subject))


def _check_held_head(head: TreeHead, size: int, roots: Mapping[int, bytes]) -> Problem | None:
    """A tree head held elsewhere must be the root of the log at its size."""
    if head.tree_size > size:
        return Problem(f"tree head of size {head.tree_size}", f"the log has only {size} "
                       "entries: entries were removed", size)
    if roots[head.tree_size] != head.root_hash:
        return Problem(f"tree head of size {head.tree_size}", f"its root {head.root_hash.hex()} "
                       f"is not the log's {roots[head.tree_size].hex()}: an entry before "
                       f"{head.tree_size} was changed", head.tree_size - 1)
    return None


class LogScan:
    """One pass over the log in index order: :meth:`add` every row, then :meth:`result`.

    ``keys`` (by key id) check every signature, and a verdict, report or tree head without one is
    a problem; ``sizes`` are the log sizes whose roots are kept (those the tree heads claim);
    ``witness`` is a verifier's own copy of the leaf hashes of the log's first entries (packed):
    an entry whose leaf is not the witness's is named, and a log shorter than it fails.
    """

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], sizes: Iterable[int], witness: bytes = b"") -> None:
        self.keys = dict(keys)
        self.sizes = set(sizes)
        self.witness = witness
        self.roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        self.logged_heads: list[tuple[int, str, bytes]] = []
        self.n_signatures = 0
        self.problems: list[Problem] = []
        self._frontier = merkle.MerkleFrontier()
        self._types: list[str] = []

    @property
    def size(self) -> int:
        return self._frontier.size

    def add(self, row: StoredEntry, bad_text: str | None = None) -> None:
        """Check the next row; ``bad_text`` names its first text column that was not UTF-8."""
        frontier, idx = self._frontier, row.idx
        if idx != frontier.size:
            self.problems.append(Problem(f"entries {frontier.size}..{idx - 1}", "missing from the log",
                                         frontier.size))
            while frontier.size < idx:  # keep positions; the gap cannot match any tree head
                frontier.append(bytes(32))
                self._types.append("")
        where = entry_where(idx, row.entry_type, row.subject_id)
        if bad_text:
            self.problems.append(Problem(where, f"column {bad_text} is not valid UTF-8 text", idx, row.subject_id))
            leaf = bytes(32)
        else:
            leaf = self._check_row(row, where)
            held = self.witness[idx * merkle.HASH_SIZE:(idx + 1) * merkle.HASH_SIZE]
            if held and held != leaf:
                self.problems.append(Problem(where, "is not the entry the witness holds: it was changed after "
                                             "it was checked", idx, row.subject_id))
            if self.keys:
                self.n_signatures += self._check_signature(row, where)
            if row.entry_type == "tree_head":
                self.logged_heads.append((idx, row.subject_id, row.payload))
        frontier.append(leaf)
        self._types.append(row.entry_type)
        if frontier.size in self.sizes:
            self.roots[frontier.size] = frontier.root()

    def _check_row(self, row: StoredEntry, where: str) -> bytes:
        """The entry's leaf hash recomputed from its columns; problems if it or ``supersedes`` is off."""
        idx, etype, subject, sup = row.idx, row.entry_type, row.subject_id, row.supersedes
        leaf = merkle.leaf_hash(row.leaf_data())
        if leaf != row.leaf_hash:
            self.problems.append(Problem(where, f"its fields or payload were changed: the stored leaf hash "
                                         f"is {row.leaf_hash.hex()}, recomputed {leaf.hex()}", idx, subject))
        if sup is not None and not (isinstance(sup, int) and 0 <= sup < idx and self._types[sup] == etype):
            self.problems.append(Problem(where, f"supersedes entry {sup}, which is not an earlier {etype}",
                                         idx, subject))
        return leaf

    def _check_signature(self, row: StoredEntry, where: str) -> int:
        """How many signatures were checked (0 or 1); problems if one is missing or does not hold."""
        idx, etype, subject, kid = row.idx, row.entry_type, row.subject_id, row.key_id
        if kid is None or row.signature is None:
            if etype in SIGNED_TYPES:
                self.problems.append(Problem(where, f"a {etype} entry that is not signed", idx, subject))
            return 0
        if kid not in self.keys:
            self.problems.append(Problem(where, f"signed with key {kid}, which is not among the given "
                                         f"keys ({', '.join(self.keys)})", idx, subject))
            return 0
        try:
            entry = row.entry()
        except (ValueError, TypeError) as exc:
            self.problems.append(Problem(where, f"cannot be read: {exc}", idx, subject))
            return 0
        if not verify_signature(self.keys[kid], entry.signature or b"", entry.signed_data()):
            self.problems.append(Problem(where, "the signature does not match the entry", idx, subject))
        return 1

    def result(self, heads: Sequence[TreeHead] = (), more: Iterable[Problem] = ()) -> VerifyResult:
        """The scan's verdict, with the logged tree heads and ``heads`` (held elsewhere) checked,
        and ``more`` problems found beside the log (its tables); the earliest problem first."""
        problems = list(self.problems)
        held = len(self.witness) // merkle.HASH_SIZE
        if self.size < held:
            problems.append(Problem(f"entries {self.size}..{held - 1}", f"missing: the witness holds {held} "
                                    f"entries, the log only {self.size} (its tail was removed)", self.size))
        for idx, subject, payload in self.logged_heads:
            _check_logged_head(idx, subject, payload, self.roots, self.keys, problems)
        for head in heads:
            if (problem := _check_held_head(head, self.size, self.roots)) is not None:
                problems.append(problem)
        problems += more
        problems.sort(key=lambda p: p.index if p.index is not None else self.size)
        return VerifyResult(not problems, self.size, self._frontier.root(), self.n_signatures,
                            len(self.logged_heads), tuple(problems[:MAX_PROBLEMS]), len(problems))
