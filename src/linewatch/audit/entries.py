"""Entries of the log and tree heads as values: their canonical bytes, their signatures, and
reading them back from what others hand us.

The leaf of an entry is the canonical JSON (:func:`canonical_json`) of its fields, with the
SHA-256 of its payload in place of the payload; entries of :data:`SIGNED_TYPES` and tree heads
are signed with Ed25519 over the same fields without the signature, so the signature is in the
leaf too. Formats: docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from linewatch.audit import merkle
from linewatch.audit.fields import check_format, get_field, get_optional, hex_bytes, log_time
from linewatch.errors import InputError
from linewatch.model import utc_iso

#: What linewatch logs: ingested records and allegations, verdicts, published reports, the
#: release of a daily report, and the tree heads it published.
ENTRY_TYPES = ("record", "allegation", "verdict", "report", "release", "tree_head", "run", "supersession",
               "review", "comment")
#: The types whose entries are signed when the log has a key (a release is not).
SIGNED_TYPES = frozenset({"verdict", "report", "tree_head"})
ENTRY_FORMAT = "linewatch.audit-entry"
TREE_HEAD_FORMAT = "linewatch.tree-head"
ENTRY_FIELDS = frozenset({"format", "version", "index", "type", "subject_id", "payload_sha256",
                          "supersedes", "appended_at", "key_id", "signature"})
_TYPE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")

#: What can be appended: bytes as they are, text as UTF-8, anything else as canonical JSON.
Payload = bytes | str | Mapping[str, Any] | list[Any]

__all__ = ["ENTRY_FIELDS", "ENTRY_FORMAT", "ENTRY_TYPES", "SIGNED_TYPES", "TREE_HEAD_FORMAT", "AuditEntry",
           "Payload", "TreeHead", "canonical_json", "check_entry_type", "key_id", "payload_bytes",
           "sha256_hex", "verify_signature"]


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the one byte form of a JSON value that is hashed or signed.

    >>> canonical_json({"b": 1, "a": "é", "c": [1.5, None]}).decode("utf-8")
    '{"a":"é","b":1,"c":[1.5,null]}'
    >>> canonical_json(float("nan"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: Out of range float values are not JSON compliant
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in lower-case hex.

    >>> sha256_hex(b"")
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    return hashlib.sha256(data).hexdigest()


def payload_bytes(payload: Payload) -> bytes:
    """The bytes a payload is stored and hashed as.

    >>> payload_bytes({"b": 1, "a": 2}), payload_bytes("é"), payload_bytes(b"\\x00")
    (b'{"a":2,"b":1}', b'\\xc3\\xa9', b'\\x00')
    """
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return canonical_json(payload)


def check_entry_type(entry_type: Any) -> None:
    """:class:`ValueError` unless ``entry_type`` is spelt as an entry type may be."""
    if not isinstance(entry_type, str) or not _TYPE_RE.fullmatch(entry_type):
        raise ValueError(f"entry type {entry_type!r}: lower-case letters, digits and _ "
                         f"(known: {', '.join(ENTRY_TYPES)})")


# -- keys and signatures -------------------------------------------------------------------------

def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s Ed25519 signature of ``data``."""
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _signature_problem(key_id_: str | None, signature: bytes | None, data: bytes, public_key: Ed25519PublicKey,
                       what: str) -> str | None:
    if signature is None or key_id_ is None:
        return "not signed"
    if key_id_ != key_id(public_key):
        return f"signed with key {key_id_}, not with the given key {key_id(public_key)}"
    if not verify_signature(public_key, signature, data):
        return f"the signature does not match the {what}"
    return None


# -- values --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditEntry:
    """One entry of the log; its leaf is the canonical JSON of :meth:`to_dict`."""

    index: int
    entry_type: str
    subject_id: str
    payload_sha256: str
    supersedes: int | None
    appended_at: datetime
    key_id: str | None = None
    signature: bytes | None = None

    def to_dict(self, *, signed: bool = True) -> dict[str, Any]:
        """The entry's fields as written in files (``signed=False``: without the signature)."""
        d: dict[str, Any] = {"format": ENTRY_FORMAT, "version": 1, "index": self.index,
                             "type": self.entry_type, "subject_id": self.subject_id,
                             "payload_sha256": self.payload_sha256, "supersedes": self.supersedes,
                             "appended_at": utc_iso(self.appended_at, timespec="microseconds"),
                             "key_id": self.key_id}
        if signed:
            d["signature"] = self.signature.hex() if self.signature is not None else None
        return d

    def leaf_data(self) -> bytes:
        """The bytes whose :func:`~linewatch.audit.merkle.leaf_hash` is the entry's leaf."""
        return canonical_json(self.to_dict())

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.leaf_data())

    def signed_data(self) -> bytes:
        """What the signature signs: every field but the signature."""
        return canonical_json(self.to_dict(signed=False))

    def sign(self, key: Ed25519PrivateKey) -> AuditEntry:
        """The entry signed with ``key`` (its ``key_id`` is part of what is signed)."""
        unsigned = replace(self, key_id=key_id(key), signature=None)
        return replace(unsigned, signature=key.sign(unsigned.signed_data()))

    def check_signature(self, public_key: Ed25519PublicKey) -> str | None:
        """``None`` if signed by ``public_key`` and the signature holds, else what is wrong."""
        return _signature_problem(self.key_id, self.signature, self.signed_data(), public_key, "entry")

    @classmethod
    def from_dict(cls, d: Any, where: str = "entry") -> AuditEntry:
        """An entry as found in a file; :class:`InputError` naming the field if it is not one."""
        check_format(d, ENTRY_FORMAT, where)
        extra = set(d) - ENTRY_FIELDS
        if extra:
            raise InputError(f"{where}: unknown fields {sorted(extra)}")
        sig = get_optional(d, "signature", str, where)
        return cls(index=get_field(d, "index", int, where), entry_type=get_field(d, "type", str, where),
                   subject_id=get_field(d, "subject_id", str, where),
                   payload_sha256=hex_bytes(get_field(d, "payload_sha256", str, where),
                                            f"{where}.payload_sha256", 32).hex(),
                   supersedes=get_optional(d, "supersedes", int, where),
                   appended_at=log_time(get_field(d, "appended_at", str, where), f"{where}.appended_at"),
                   key_id=get_optional(d, "key_id", str, where),
                   signature=None if sig is None else hex_bytes(sig, f"{where}.signature", 64))


@dataclass(frozen=True)
class TreeHead:
    """The size and root hash of the log at one time, signed or not."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str | None = None
    signature: bytes | None = None

    def to_dict(self, *, signed: bool = True) -> dict[str, Any]:
        """The head as written in files (``signed=False``: without the signature)."""
        d: dict[str, Any] = {"format": TREE_HEAD_FORMAT, "version": 1, "tree_size": self.tree_size,
                             "root_hash": self.root_hash.hex(),
                             "timestamp": utc_iso(self.timestamp, timespec="microseconds"),
                             "key_id": self.key_id}
        if signed:
            d["signature"] = self.signature.hex() if self.signature is not None else None
        return d

    def signed_data(self) -> bytes:
        """What the signature signs: every field but the signature."""
        return canonical_json(self.to_dict(signed=False))

    def sign(self, key: Ed25519PrivateKey) -> TreeHead:
        """The head signed with ``key``."""
        unsigned = TreeHead(self.tree_size, self.root_hash, self.timestamp, key_id(key))
        return replace(unsigned, signature=key.sign(unsigned.signed_data()))

    def check_signature(self, public_key: Ed25519PublicKey) -> str | None:
        """``None`` if signed by ``public_key`` and the signature holds, else what is wrong."""
        return _signature_problem(self.key_id, self.signature, self.signed_data(), public_key, "tree head")

    @classmethod
    def from_dict(cls, d: Any, where: str = "tree head") -> TreeHead:
        """A tree head as found in a file; :class:`InputError` naming the field if it is not one."""
        check_format(d, TREE_HEAD_FORMAT, where)
        size = get_field(d, "tree_size", int, where)
        if size < 0:
            raise InputError(f"{where}.tree_size: {size} is negative")
        sig = get_optional(d, "signature", str, where)
        return cls(size, hex_bytes(get_field(d, "root_hash", str, where), f"{where}.root_hash", 32),
                   log_time(get_field(d, "timestamp", str, where), f"{where}.timestamp"),
                   get_optional(d, "key_id", str, where),
                   None if sig is None else hex_bytes(sig, f"{where}.signature", 64))
