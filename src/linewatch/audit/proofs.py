"""Proofs that a party can check with nothing but a tree head it holds (and the public key).

An :class:`InclusionProof` shows that one entry is in the log of a given size (RFC 6962
``PATH``); a :class:`ConsistencyProof` that a later log extends an earlier one (``PROOF``).
:func:`check_inclusion` and :func:`check_consistency` check them against the heads the party
holds, and say what does not match as :class:`Problem` values, the same kind the whole log's
verification (:class:`VerifyResult`) reports.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linewatch.audit import merkle
from linewatch.audit.entries import AuditEntry, TreeHead, sha256_hex
from linewatch.audit.fields import b64_bytes, check_format, get_field, get_optional, hex_bytes
from linewatch.errors import InputError

INCLUSION_FORMAT = "linewatch.inclusion-proof"
CONSISTENCY_FORMAT = "linewatch.consistency-proof"

__all__ = ["CheckResult", "ConsistencyProof", "InclusionProof", "Problem", "VerifyResult", "check_consistency",
           "check_inclusion", "entry_where", "read_proof"]


@dataclass(frozen=True)
class Problem:
    """One thing that does not match: where (an entry, a file, a field) and what."""

    where: str
    what: str
    index: int | None = None
    subject_id: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True)
class CheckResult:
    """A proof checked: ``ok``, or the ``problems`` (``first`` is the one to print)."""

    ok: bool
    problems: tuple[Problem, ...] = ()

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


@dataclass(frozen=True)
class VerifyResult:
    """The whole log checked: ``first`` is the earliest entry that does not match."""

    ok: bool
    size: int
    root_hash: bytes
    n_signatures: int
    n_tree_heads: int
    problems: tuple[Problem, ...] = ()
    n_problems: int = 0

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def entry_where(index: int, entry_type: str, subject_id: str) -> str:
    """How a problem names an entry.

    >>> entry_where(17, "verdict", "V2")
    "entry 17 (verdict 'V2')"
    """
    return f"entry {index} ({entry_type} {subject_id!r})"


def _encode_payload(payload: bytes) -> dict[str, str]:
    try:
        return {"encoding": "utf-8", "data": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(payload).decode("ascii")}


def _decode_payload(d: Any, where: str) -> bytes:
    enc, data = get_field(d, "encoding", str, where), get_field(d, "data", str, where)
    if enc == "utf-8":
        return data.encode("utf-8")
    if enc == "base64":
        return b64_bytes(data, f"{where}.data")
    raise InputError(f"{where}.encoding: expected 'utf-8' or 'base64', got {enc!r}")


def _hashes(values: list[Any], where: str) -> tuple[bytes, ...]:
    return tuple(hex_bytes(h, f"{where}[{i}]", 32) for i, h in enumerate(values))


@dataclass(frozen=True)
class InclusionProof:
    """That one entry is leaf ``leaf_index`` of the tree of ``tree_size`` entries (RFC 6962 PATH)."""

    entry: AuditEntry
    payload: bytes | None
    tree_size: int
    audit_path: tuple[bytes, ...]
    tree_head: TreeHead

    def to_dict(self) -> dict[str, Any]:
        return {"format": INCLUSION_FORMAT, "version": 1, "entry": self.entry.to_dict(),
                "payload": None if self.payload is None else _encode_payload(self.payload),
                "leaf_index": self.entry.index, "tree_size": self.tree_size,
                "audit_path": [h.hex() for h in self.audit_path], "tree_head": self.tree_head.to_dict()}

    @classmethod
    def from_dict(cls, d: Any, where: str = "proof") -> InclusionProof:
        check_format(d, INCLUSION_FORMAT, where)
        entry = AuditEntry.from_dict(get_field(d, "entry", dict, where), f"{where}.entry")
        if get_field(d, "leaf_index", int, where) != entry.index:
            raise InputError(f"{where}.leaf_index: {d['leaf_index']} is not the entry's index {entry.index}")
        payload = get_optional(d, "payload", dict, where)
        path = get_field(d, "audit_path", list, where)
        return cls(entry, None if payload is None else _decode_payload(payload, f"{where}.payload"),
                   get_field(d, "tree_size", int, where), _hashes(path, f"{where}.audit_path"),
                   TreeHead.from_dict(get_field(d, "tree_head", dict, where), f"{where}.tree_head"))


@dataclass(frozen=True)
class ConsistencyProof:
    """That the log of ``old_size`` entries is a prefix of the log of ``new_size`` (RFC 6962 PROOF)."""

    old_size: int
    old_root: bytes
    new_size: int
    new_root: bytes
    proof: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"format": CONSISTENCY_FORMAT, "version": 1, "old_size": self.old_size,
                "old_root": self.old_root.hex(), "new_size": self.new_size,
                "new_root": self.new_root.hex(), "proof": [h.hex() for h in self.proof]}

    @classmethod
    def from_dict(cls, d: Any, where: str = "proof") -> ConsistencyProof:
        check_format(d, CONSISTENCY_FORMAT, where)
        return cls(get_field(d, "old_size", int, where),
                   hex_bytes(get_field(d, "old_root", str, where), f"{where}.old_root", 32),
                   get_field(d, "new_size", int, where),
                   hex_bytes(get_field(d, "new_root", str, where), f"{where}.new_root", 32),
                   _hashes(get_field(d, "proof", list, where), f"{where}.proof"))


def read_proof(d: Any, where: str = "proof") -> InclusionProof | ConsistencyProof:
    """An inclusion or a consistency proof, by its ``format`` field."""
    fmt = get_field(d, "format", str, where)
    if fmt == CONSISTENCY_FORMAT:
        return ConsistencyProof.from_dict(d, where)
    return InclusionProof.from_dict(d, where)


def check_inclusion(proof: InclusionProof, head: TreeHead,
                    public_key: Ed25519PublicKey | None = None) -> CheckResult:
    """Check an inclusion proof against a tree head the checker holds (no store needed)."""
    problems = []
    e = proof.entry
    where = entry_where(e.index, e.entry_type, e.subject_id)
    if public_key is not None:
        if (why := head.check_signature(public_key)) is not None:
            problems.append(Problem("tree head", why))
        if e.key_id is not None and (why := e.check_signature(public_key)) is not None:
            problems.append(Problem(where, why, e.index, e.subject_id))
    if proof.payload is not None and sha256_hex(proof.payload) != e.payload_sha256:
        problems.append(Problem(f"{where} payload", f"SHA-256 {sha256_hex(proof.payload)} is not the "
                                f"entry's payload_sha256 {e.payload_sha256}", e.index, e.subject_id))
    if proof.tree_size != head.tree_size:
        problems.append(Problem("proof.tree_size", f"the proof is for a log of {proof.tree_size} entries, "
                                f"the tree head for {head.tree_size}: ask for a proof against your head "
                                f"(linewatch audit prove --size {head.tree_size})"))
    elif not merkle.verify_inclusion(e.leaf_hash, e.index, head.tree_size, proof.audit_path, head.root_hash):
        problems.append(Problem(where, f"the audit path does not lead from this entry to the root "
                                f"{head.root_hash.hex()} of the log of {head.tree_size} entries",
                                e.index, e.subject_id))
    return CheckResult(not problems, tuple(problems))


def check_consistency(proof: ConsistencyProof, old_head: TreeHead, new_head: TreeHead,
                      public_key: Ed25519PublicKey | None = None) -> CheckResult:
    """Check that ``new_head``'s log extends ``old_head``'s, with a consistency proof."""
    problems = []
    for name, head, size, root in (("old tree head", old_head, proof.old_size, proof.old_root),
                                   ("new tree head", new_head, proof.new_size, proof.new_root)):
        if public_key is not None and (why := head.check_signature(public_key)) is not None:
            problems.append(Problem(name, why))
        if (head.tree_size, head.root_hash) != (size, root):
            problems.append(Problem(name, f"size {head.tree_size}, root {head.root_hash.hex()}; the proof "
                                    f"is about size {size}, root {root.hex()}"))
    if not problems and not merkle.verify_consistency(old_head.tree_size, new_head.tree_size,
                                                      old_head.root_hash, new_head.root_hash, proof.proof):
        problems.append(Problem("proof", f"the log of {new_head.tree_size} entries does not extend the log "
                                f"of {old_head.tree_size} entries: the proof does not hold"))
    return CheckResult(not problems, tuple(problems))
