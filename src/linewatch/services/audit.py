"""The tamper-evident audit log: an append-only RFC 6962 Merkle tree in the store, and signatures.

Every ingested record and allegation, every verdict and every published report is an entry of
the log; entry ``i`` is leaf ``i`` of a Merkle tree hashed as Certificate Transparency does
(:mod:`linewatch.audit.merkle`). A party holding a signed tree head can check with a short proof that
an entry is in the log, and that a later log extends the one they hold. Rows of ``audit_log``
are never updated or deleted (triggers refuse it); a correction is a new entry whose
``supersedes`` names the index of the entry it corrects. Formats: docs/audit.md.

The leaf of an entry is the canonical JSON (:func:`canonical_json`) of its fields, with the
SHA-256 of its payload in place of the payload; verdicts, reports and tree heads are signed
with Ed25519 over the same fields without the signature, so the signature is in the leaf too.

API
---
Keys
    ``generate_keys(directory, *, force=False) -> (private_path, public_path)``,
    ``load_private_key(path)``, ``load_public_key(path)``, ``key_id(key) -> str``.
The log
    ``log = AuditLog(store, *, key=None, clock=None)``;
    ``log.append(entry_type, subject_id, payload, *, supersedes=None, sign=None) -> AuditEntry``;
    ``log.append_many([(entry_type, subject_id, payload[, supersedes]), ...]) -> list[AuditEntry]``
    (one transaction; inside the caller's transaction if one is open);
    ``log.log_new_records() -> int`` (every row of ``records`` and ``allegations`` not yet logged);
    ``log.size()``, ``log.entry(index)``, ``log.latest(subject_id, entry_type=None)``,
    ``log.entries(*, subject_id=None, entry_type=None)``, ``log.payload(index)``,
    ``log.tree_head(size=None) -> TreeHead``,
    ``log.signed_tree_head(key=None, size=None)``, ``log.publish_tree_head(key=None)`` (signs
    and appends a ``tree_head`` entry), ``log.published_heads()``;
    ``log.prove(subject_id | index, *, size=None, entry_type=None) -> InclusionProof``;
    ``log.consistency(old_size, new_size=None) -> ConsistencyProof``;
    ``log.verify(public_keys=None, *, heads=(), check_tables=True) -> VerifyResult``.
Checking what a party holds (no store needed)
    ``check_inclusion(proof, head, public_key=None) -> CheckResult``,
    ``check_consistency(proof, old_head, new_head, public_key=None) -> CheckResult``;
    ``TreeHead.from_dict``, ``read_proof`` and ``read_json_file`` read the files (errors are
    :class:`InputError` naming the file and field).
Results
    ``VerifyResult``, ``CheckResult`` and ``BundleResult`` have ``ok``, ``problems`` (each a
    :class:`Problem`: ``where``, ``what``, ``index``, ``subject_id``) and ``first``.
Report bundles
    ``make_bundle(report_files, log, key, *, report_id, created_at=None) -> bytes`` (logs the
    report, publishes a tree head, and packs the files with everything needed to check them);
    ``verify_bundle(bundle_bytes, public_key) -> BundleResult``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from linewatch.audit import merkle as merkle
from linewatch.errors import InputError, NotFound, StoreError
from linewatch.model import utc_iso

if TYPE_CHECKING:
    from linewatch.store import Store

ENTRY_TYPES = ("record", "allegation", "verdict", "report", "tree_head")
SIGNED_TYPES = frozenset({"verdict", "report", "tree_head"})
SYNCED_TABLES = {"record": "records", "allegation": "allegations"}  # entry type -> table(id, data)
PRIVATE_KEY_NAME = "linewatch-signing-key.pem"
PUBLIC_KEY_NAME = "linewatch-signing-key.pub.pem"
MAX_PROBLEMS = 100
_TYPE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_HEX_RE = re.compile(r"[0-9a-f]*")

Payload = bytes | str | Mapping[str, Any] | list


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the one byte form of a JSON value that is hashed or signed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _payload_bytes(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return canonical_json(payload)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


# -- parsing what others hand us: every error names the field ---------------------------------

def _get(d: Any, name: str, kind: type | tuple[type, ...], where: str, *, optional: bool = False) -> Any:
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(d).__name__}")
    if name not in d:
        raise InputError(f"{where}: field {name!r} is missing")
    value = d[name]
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InputError(f"{where}.{name}: expected {getattr(kind, '__name__', kind)}, got {value!r:.60}")
    return value


def _hex(value: Any, where: str, nbytes: int | None = None) -> bytes:
    """Lower-case hex only: one value has one spelling, so no byte of a file can change unnoticed."""
    if not isinstance(value, str) or not _HEX_RE.fullmatch(value) or len(value) % 2:
        raise InputError(f"{where}: {value!r:.80} is not lower-case hexadecimal")
    if nbytes is not None and len(value) != 2 * nbytes:
        raise InputError(f"{where}: expected {nbytes} bytes ({2 * nbytes} hex digits), got {len(value)} digits")
    return bytes.fromhex(value)


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(f"{where}: expected an ISO 8601 time, got {value!r:.60}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{where}: {value!r} is not an ISO 8601 time") from exc
    if t.tzinfo is None or utc_iso(t, timespec="microseconds") != value:
        raise InputError(f"{where}: {value!r} is not a UTC time as the log writes it "
                         "(YYYY-MM-DDTHH:MM:SS.ffffffZ)")
    return t


def _check_format(d: Any, fmt: str, where: str) -> None:
    got = _get(d, "format", str, where)
    if got != fmt:
        raise InputError(f"{where}.format: expected {fmt!r}, got {got!r}")
    version = _get(d, "version", int, where)
    if version != 1:
        raise InputError(f"{where}.version: this linewatch reads version 1, got {version}")


def read_json_file(path: str | Path, what: str) -> Any:
    """A JSON file given on the command line; :class:`InputError` naming the file if unreadable."""
    p = Path(path)
    try:
        return json.loads(p.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such {what} file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: not a readable {what} (JSON): {exc}") from exc


# -- keys --------------------------------------------------------------------------------------

def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keys(directory: str | Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair as PEM files (private key mode 0600); return their paths.

    Refuses (:class:`InputError`) to replace an existing key unless ``force``.
    """
    d = Path(directory)
    priv_path, pub_path = d / PRIVATE_KEY_NAME, d / PUBLIC_KEY_NAME
    if not force:
        for p in (priv_path, pub_path):
            if p.exists():
                raise InputError(f"{p}: a key already exists; keep it, or replace it with --force "
                                 "(signatures made with it can then only be checked with the old "
                                 "public key)")
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = d / f".{PRIVATE_KEY_NAME}.tmp"
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, priv_path)
    pub_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv_path, pub_path


def _read_key_file(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the key file: {exc.strerror or exc}") from exc


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """An unencrypted PKCS#8 PEM Ed25519 private key, as written by :func:`generate_keys`."""
    try:
        key = serialization.load_pem_private_key(_read_key_file(path), password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """A PEM Ed25519 public key (SubjectPublicKeyInfo), as written by :func:`generate_keys`."""
    data = _read_key_file(path)
    if b"PRIVATE KEY" in data:
        raise InputError(f"{path}: this is a private key; give the public key "
                         f"({PUBLIC_KEY_NAME}) instead, and keep the private key to yourself")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InputError(f"{path}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def _verify_sig(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


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
        d: dict[str, Any] = {"format": "linewatch.audit-entry", "version": 1, "index": self.index,
                             "type": self.entry_type, "subject_id": self.subject_id,
                             "payload_sha256": self.payload_sha256, "supersedes": self.supersedes,
                             "appended_at": utc_iso(self.appended_at, timespec="microseconds"), "key_id": self.key_id}
        if signed:
            d["signature"] = self.signature.hex() if self.signature is not None else None
        return d

    def leaf_data(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.leaf_data())

    def signed_data(self) -> bytes:
        """What the signature signs: every field but the signature."""
        return canonical_json(self.to_dict(signed=False))

    @classmethod
    def from_dict(cls, d: Any, where: str = "entry") -> AuditEntry:
        _check_format(d, "linewatch.audit-entry", where)
        extra = set(d) - _ENTRY_FIELDS
        if extra:
            raise InputError(f"{where}: unknown fields {sorted(extra)}")
        sig = _get(d, "signature", str, where, optional=True)
        return cls(index=_get(d, "index", int, where), entry_type=_get(d, "type", str, where),
                   subject_id=_get(d, "subject_id", str, where),
                   payload_sha256=_hex(_get(d, "payload_sha256", str, where), f"{where}.payload_sha256", 32).hex(),
                   supersedes=_get(d, "supersedes", int, where, optional=True),
                   appended_at=_time(_get(d, "appended_at", str, where), f"{where}.appended_at"),
                   key_id=_get(d, "key_id", str, where, optional=True),
                   signature=None if sig is None else _hex(sig, f"{where}.signature", 64))

    def check_signature(self, public_key: Ed25519PublicKey) -> str | None:
        """``None`` if signed by ``public_key`` and the signature holds, else what is wrong."""
        if self.signature is None or self.key_id is None:
            return "not signed"
        if self.key_id != key_id(public_key):
            return f"signed with key {self.key_id}, not with the given key {key_id(public_key)}"
        if not _verify_sig(public_key, self.signature, self.signed_data()):
            return "the signature does not match the entry"
        return None


_ENTRY_FIELDS = frozenset({"format", "version", "index", "type", "subject_id", "payload_sha256",
                           "supersedes", "appended_at", "key_id", "signature"})


@dataclass(frozen=True)
class TreeHead:
    """The size and root hash of the log at one time, signed or not."""

    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str | None = None
    signature: bytes | None = None

    def to_dict(self, *, signed: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"format": "linewatch.tree-head", "version": 1, "tree_size": self.tree_size,
                             "root_hash": self.root_hash.hex(), "timestamp": utc_iso(self.timestamp, timespec="microseconds"),
                             "key_id": self.key_id}
        if signed:
            d["signature"] = self.signature.hex() if self.signature is not None else None
        return d

    def signed_data(self) -> bytes:
        return canonical_json(self.to_dict(signed=False))

    def sign(self, key: Ed25519PrivateKey) -> TreeHead:
        unsigned = TreeHead(self.tree_size, self.root_hash, self.timestamp, key_id(key))
        return TreeHead(self.tree_size, self.root_hash, self.timestamp, unsigned.key_id,
                        key.sign(unsigned.signed_data()))

    def check_signature(self, public_key: Ed25519PublicKey) -> str | None:
        if self.signature is None or self.key_id is None:
            return "not signed"
        if self.key_id != key_id(public_key):
            return f"signed with key {self.key_id}, not with the given key {key_id(public_key)}"
        if not _verify_sig(public_key, self.signature, self.signed_data()):
            return "the signature does not match the tree head"
        return None

    @classmethod
    def from_dict(cls, d: Any, where: str = "tree head") -> TreeHead:
        _check_format(d, "linewatch.tree-head", where)
        size = _get(d, "tree_size", int, where)
        if size < 0:
            raise InputError(f"{where}.tree_size: {size} is negative")
        sig = _get(d, "signature", str, where, optional=True)
        return cls(size, _hex(_get(d, "root_hash", str, where), f"{where}.root_hash", 32),
                   _time(_get(d, "timestamp", str, where), f"{where}.timestamp"),
                   _get(d, "key_id", str, where, optional=True),
                   None if sig is None else _hex(sig, f"{where}.signature", 64))


def _encode_payload(payload: bytes) -> dict[str, str]:
    try:
        return {"encoding": "utf-8", "data": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(payload).decode("ascii")}


def _decode_payload(d: Any, where: str) -> bytes:
    enc, data = _get(d, "encoding", str, where), _get(d, "data", str, where)
    if enc == "utf-8":
        return data.encode("utf-8")
    if enc == "base64":
        return _b64(data, f"{where}.data")
    raise InputError(f"{where}.encoding: expected 'utf-8' or 'base64', got {enc!r}")


def _b64(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{where}: not base64 ({exc})") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise InputError(f"{where}: not in canonical base64")
    return raw


@dataclass(frozen=True)
class InclusionProof:
    """That one entry is leaf ``leaf_index`` of the tree of ``tree_size`` entries (RFC 6962 PATH)."""

    entry: AuditEntry
    payload: bytes | None
    tree_size: int
    audit_path: tuple[bytes, ...]
    tree_head: TreeHead

    def to_dict(self) -> dict[str, Any]:
        return {"format": "linewatch.inclusion-proof", "version": 1, "entry": self.entry.to_dict(),
                "payload": None if self.payload is None else _encode_payload(self.payload),
                "leaf_index": self.entry.index, "tree_size": self.tree_size,
                "audit_path": [h.hex() for h in self.audit_path], "tree_head": self.tree_head.to_dict()}

    @classmethod
    def from_dict(cls, d: Any, where: str = "proof") -> InclusionProof:
        _check_format(d, "linewatch.inclusion-proof", where)
        entry = AuditEntry.from_dict(_get(d, "entry", dict, where), f"{where}.entry")
        if _get(d, "leaf_index", int, where) != entry.index:
            raise InputError(f"{where}.leaf_index: {d['leaf_index']} is not the entry's index {entry.index}")
        payload = _get(d, "payload", dict, where, optional=True)
        path = _get(d, "audit_path", list, where)
        return cls(entry, None if payload is None else _decode_payload(payload, f"{where}.payload"),
                   _get(d, "tree_size", int, where),
                   tuple(_hex(h, f"{where}.audit_path[{i}]", 32) for i, h in enumerate(path)),
                   TreeHead.from_dict(_get(d, "tree_head", dict, where), f"{where}.tree_head"))


@dataclass(frozen=True)
class ConsistencyProof:
    """That the log of ``old_size`` entries is a prefix of the log of ``new_size`` (RFC 6962 PROOF)."""

    old_size: int
    old_root: bytes
    new_size: int
    new_root: bytes
    proof: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "linewatch.consistency-proof", "version": 1, "old_size": self.old_size,
                "old_root": self.old_root.hex(), "new_size": self.new_size,
                "new_root": self.new_root.hex(), "proof": [h.hex() for h in self.proof]}

    @classmethod
    def from_dict(cls, d: Any, where: str = "proof") -> ConsistencyProof:
        _check_format(d, "linewatch.consistency-proof", where)
        return cls(_get(d, "old_size", int, where), _hex(_get(d, "old_root", str, where), f"{where}.old_root", 32),
                   _get(d, "new_size", int, where), _hex(_get(d, "new_root", str, where), f"{where}.new_root", 32),
                   tuple(_hex(h, f"{where}.proof[{i}]", 32)
                         for i, h in enumerate(_get(d, "proof", list, where))))


def read_proof(d: Any, where: str = "proof") -> InclusionProof | ConsistencyProof:
    """An inclusion or a consistency proof, by its ``format`` field."""
    fmt = _get(d, "format", str, where)
    if fmt == "linewatch.consistency-proof":
        return ConsistencyProof.from_dict(d, where)
    return InclusionProof.from_dict(d, where)


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


@dataclass(frozen=True)
class BundleResult:
    """A report bundle checked; ``files`` are its files (to be trusted only when ``ok``)."""

    ok: bool
    report_id: str | None
    files: Mapping[str, bytes] = field(default_factory=dict)
    tree_head: TreeHead | None = None
    entry: AuditEntry | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def _entry_where(e: AuditEntry) -> str:
    return f"entry {e.index} ({e.entry_type} {e.subject_id!r})"


def check_inclusion(proof: InclusionProof, head: TreeHead,
                    public_key: Ed25519PublicKey | None = None) -> CheckResult:
    """Check an inclusion proof against a tree head the checker holds (no store needed)."""
    problems = []
    e = proof.entry
    where = _entry_where(e)
    if public_key is not None:
        if (why := head.check_signature(public_key)) is not None:
            problems.append(Problem("tree head", why))
        if e.key_id is not None and (why := e.check_signature(public_key)) is not None:
            problems.append(Problem(where, why, e.index, e.subject_id))
    if proof.payload is not None and _sha256_hex(proof.payload) != e.payload_sha256:
        problems.append(Problem(f"{where} payload", f"SHA-256 {_sha256_hex(proof.payload)} is not the "
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


# -- the log -------------------------------------------------------------------------------------

_COLUMNS = "idx, entry_type, subject_id, payload, supersedes, appended_at, key_id, signature, leaf_hash"


def _blob(value: Any) -> bytes:
    """A BLOB column as bytes, even if someone stored text or a number in it."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _row_entry(row: tuple) -> AuditEntry:
    idx, etype, subject, payload, supersedes, at, kid, sig, _ = row
    return AuditEntry(idx, etype, subject, _sha256_hex(_blob(payload)), supersedes,
                      datetime.fromisoformat(at), kid, None if sig is None else bytes.fromhex(sig))


# Text columns read as bytes, so that a byte changed into invalid UTF-8 is reported, not raised.
def _as_bytes(dialect: str, expr: str) -> str:
    """A text column as its stored bytes. SQLite keeps whatever bytes were written (even text
    that is not UTF-8, which the check must see); PostgreSQL's text is always valid UTF-8."""
    return f"CAST({expr} AS BLOB)" if dialect == "sqlite" else expr


def _raw_select(dialect: str) -> str:
    b = lambda e: _as_bytes(dialect, e)  # noqa: E731
    return (f"SELECT idx, {b('entry_type')}, {b('subject_id')}, payload, supersedes, "
            f"{b('appended_at')}, {b('key_id')}, {b('signature')}, leaf_hash FROM audit_log ORDER BY idx")
_TEXT_COLUMNS = {1: "entry_type", 2: "subject_id", 5: "appended_at", 6: "key_id", 7: "signature"}


def _decode_row(raw: tuple) -> tuple[tuple, str | None]:
    """The row with its text columns decoded, and the name of the first one that is not UTF-8."""
    row, bad = list(raw), None
    for i, name in _TEXT_COLUMNS.items():
        if isinstance(row[i], bytes):
            try:
                row[i] = row[i].decode("utf-8")
            except UnicodeDecodeError:
                row[i] = row[i].decode("utf-8", errors="replace")
                bad = bad or name
    return tuple(row), bad


def _row_leaf_data(row: tuple) -> bytes:
    """The leaf exactly as the stored columns spell it (no re-parsing: every byte counts)."""
    idx, etype, subject, payload, supersedes, at, kid, sig, _ = row
    return canonical_json({"format": "linewatch.audit-entry", "version": 1, "index": idx, "type": etype,
                           "subject_id": subject, "payload_sha256": _sha256_hex(_blob(payload)),
                           "supersedes": supersedes, "appended_at": at, "key_id": kid, "signature": sig})


@dataclass
class _Scan:
    """What one pass over the log found (internal to :meth:`AuditLog.verify`)."""

    roots: dict[int, bytes]
    logged_heads: list[tuple[int, str, Any]] = field(default_factory=list)
    n_signatures: int = 0
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT


class AuditLog:
    """The append-only log in a :class:`~linewatch.store.base.Store` (table ``audit_log``).

    ``key`` signs the entries of :data:`SIGNED_TYPES` and the tree heads; ``clock`` returns the
    current UTC time (injected in tests).
    """

    def __init__(self, store: Store, *, key: Ed25519PrivateKey | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.conn = store.conn
        self.dialect = store.dialect
        self.key = key
        self.clock = clock or _utc_now

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """The caller's open transaction, or a new one."""
        if self.conn.in_transaction:
            yield self.conn
        else:
            with self.store.transaction() as c:
                yield c

    # -- writing ----------------------------------------------------------------------------
    def append(self, entry_type: str, subject_id: str, payload: Payload, *,
               supersedes: int | None = None, sign: bool | None = None) -> AuditEntry:
        """Append one entry; a correction gives ``supersedes``, the index of the entry it corrects."""
        return self.append_many([(entry_type, subject_id, payload, supersedes)], sign=sign)[0]

    def append_many(self, items: Iterable[tuple], *, sign: bool | None = None) -> list[AuditEntry]:
        """Append ``(entry_type, subject_id, payload[, supersedes])`` items in one transaction.

        Entries of :data:`SIGNED_TYPES` are signed when the log has a key (``sign=None``);
        ``sign=True`` signs every entry (and needs a key), ``sign=False`` none.
        """
        if sign and self.key is None:
            raise ValueError("sign=True needs the AuditLog to have a key")
        with self._tx() as c:
            return self._insert(c, items, sign)

    def _insert(self, c: Any, items: Iterable[tuple], sign: bool | None) -> list[AuditEntry]:
        now = self.clock()
        self.store._lock(c, "audit_log")    # the next index is read, then written
        idx = int(c.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_log").fetchone()[0])
        types: dict[int, str] = {}
        out, rows = [], []
        for item in items:
            payload = _payload_bytes(item[2])
            entry = self._new_entry(c, idx, item, payload, now, sign, types)
            rows.append((idx, entry.entry_type, entry.subject_id, payload, entry.supersedes, utc_iso(now, timespec="microseconds"),
                         entry.key_id, entry.signature.hex() if entry.signature is not None else None,
                         entry.leaf_hash))
            types[idx] = entry.entry_type
            out.append(entry)
            idx += 1
        c.executemany(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return out

    def _new_entry(self, c: Any, idx: int, item: tuple, payload: bytes, now: datetime,
                   sign: bool | None, types: Mapping[int, str]) -> AuditEntry:
        """Check one item to append and make its entry, signed if it should be."""
        entry_type, subject_id = item[0], item[1]
        supersedes = item[3] if len(item) > 3 else None
        if not isinstance(entry_type, str) or not _TYPE_RE.fullmatch(entry_type):
            raise ValueError(f"entry type {entry_type!r}: lower-case letters, digits and _ "
                             f"(known: {', '.join(ENTRY_TYPES)})")
        if not isinstance(subject_id, str) or not subject_id:
            raise ValueError(f"entry {idx} ({entry_type}): subject id {subject_id!r} is not a non-empty string")
        if supersedes is not None:
            old = types.get(supersedes) or self._type_of(c, supersedes)
            if old is None or not 0 <= supersedes < idx:
                raise NotFound("audit entry to supersede", supersedes)
            if old != entry_type:
                raise ValueError(f"entry {idx} ({entry_type} {subject_id!r}) cannot supersede "
                                 f"entry {supersedes}, a {old}")
        entry = AuditEntry(idx, entry_type, subject_id, _sha256_hex(payload), supersedes, now)
        if self.key is None or not (entry_type in SIGNED_TYPES if sign is None else sign):
            return entry
        signing = AuditEntry(idx, entry_type, subject_id, entry.payload_sha256, supersedes, now, key_id(self.key))
        return AuditEntry(idx, entry_type, subject_id, entry.payload_sha256, supersedes, now,
                          signing.key_id, self.key.sign(signing.signed_data()))

    @staticmethod
    def _type_of(c: Any, idx: int) -> str | None:
        row = c.execute("SELECT entry_type FROM audit_log WHERE idx = ?", (idx,)).fetchone()
        return None if row is None else str(row[0])

    def _tables(self) -> list[tuple[str, str, bool]]:
        """(entry type, table, has a supersedes column) for the synced tables that exist."""
        out = []
        for etype, table in SYNCED_TABLES.items():
            cols = {d[0] for d in self.conn.execute(f"SELECT * FROM {table} LIMIT 0").description}
            if {"id", "data"} <= cols:
                out.append((etype, table, "supersedes" in cols))
        return out

    def log_new_records(self, *, full: bool = False) -> int:
        """Append an entry for every row of ``records`` and ``allegations`` not yet in the log.

        The payload is the row's stored canonical JSON; an allegation that supersedes another is
        logged as a correction of the other's latest entry. Idempotent; returns how many were added.
        Rows are logged in insertion (rowid) order, so by default only rows after the last one
        logged are looked at; ``full`` looks at every row (``linewatch audit sync``).
        """
        added = 0
        with self._tx() as c:
            # no record writer between its row id and its commit: none can land behind us
            self.store._lock(c, "records")
            self.store._lock(c, "audit_log")
            by_type = "+a.entry_type" if self.dialect == "sqlite" else "a.entry_type"
            for etype, table, has_sup in self._tables():
                sup = "r.supersedes" if has_sup else "NULL"
                after = 0
                if not full:
                    got = c.execute(
                        f"SELECT r.rowid FROM {table} r WHERE r.id = (SELECT subject_id FROM audit_log "
                        f"WHERE entry_type = ? ORDER BY idx DESC LIMIT 1)", (etype,)).fetchone()
                    after = int(got[0]) if got else 0
                rows = c.execute(
                    f"SELECT r.id, r.data, {sup} FROM {table} r WHERE r.rowid > ? AND NOT EXISTS "
                    f"(SELECT 1 FROM audit_log a WHERE a.subject_id = r.id AND {by_type} = ?) "  # by subject
                    f"ORDER BY r.rowid", (after, etype)).fetchall()
                start = int(c.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_log").fetchone()[0])
                items: list[tuple] = []
                in_batch: dict[str, int] = {}
                for rid, data, old_id in rows:
                    prev = in_batch.get(old_id) if old_id is not None else None
                    if old_id is not None and prev is None:
                        got = c.execute("SELECT max(idx) FROM audit_log WHERE entry_type = ? AND subject_id = ?",
                                        (etype, old_id)).fetchone()[0]
                        prev = None if got is None else int(got)
                    in_batch[rid] = start + len(items)
                    items.append((etype, rid, data, prev))
                added += len(self._insert(c, items, None))
        return added

    # -- reading ----------------------------------------------------------------------------
    def size(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_log").fetchone()[0])

    def entry(self, index: int) -> AuditEntry:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise NotFound("audit entry", index)
        return _row_entry(row)

    def payload(self, index: int) -> bytes:
        row = self.conn.execute("SELECT payload FROM audit_log WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise NotFound("audit entry", index)
        return bytes(row[0])

    def latest(self, subject_id: str, entry_type: str | None = None) -> AuditEntry:
        """The newest entry about ``subject_id`` (the current version after corrections)."""
        sql, args = f"SELECT {_COLUMNS} FROM audit_log WHERE subject_id = ?", [subject_id]
        if entry_type is not None:
            sql += " AND entry_type = ?"
            args.append(entry_type)
        row = self.conn.execute(sql + " ORDER BY idx DESC LIMIT 1", args).fetchone()
        if row is None:
            raise NotFound(f"{entry_type or 'audit'} entry for", subject_id)
        return _row_entry(row)

    def entries(self, *, subject_id: str | None = None, entry_type: str | None = None) -> list[AuditEntry]:
        where, args = [], []
        for col, value in (("subject_id", subject_id), ("entry_type", entry_type)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        return [_row_entry(r) for r in self.conn.execute(sql + " ORDER BY idx", args)]

    def _leaves(self, size: int | None = None) -> bytes:
        n = self.size() if size is None else size
        packed = b"".join(r[0] for r in self.conn.execute(
            "SELECT leaf_hash FROM audit_log WHERE idx < ? ORDER BY idx", (n,)))
        if len(packed) != n * merkle.HASH_SIZE:
            raise StoreError(f"{self.store.where}: audit_log has {len(packed) // merkle.HASH_SIZE} leaves "
                             f"below index {n}, expected {n} (run linewatch audit verify)")
        return packed

    def tree_head(self, size: int | None = None) -> TreeHead:
        """The unsigned head of the log (of its first ``size`` entries), from the stored leaf hashes."""
        n = self.size() if size is None else size
        if not 0 <= n <= self.size():
            raise NotFound("audit log size", n)
        return TreeHead(n, merkle.MerkleTree(self._leaves(n)).root(), self.clock())

    def signed_tree_head(self, key: Ed25519PrivateKey | None = None, size: int | None = None) -> TreeHead:
        key = key or self.key
        if key is None:
            raise ValueError("signing a tree head needs a key")
        return self.tree_head(size).sign(key)

    def publish_tree_head(self, key: Ed25519PrivateKey | None = None) -> TreeHead:
        """Sign the current head and append it to the log as a ``tree_head`` entry (atomically)."""
        key = key or self.key
        if key is None:
            raise ValueError("publishing a tree head needs a key")
        with self._tx() as c:
            head = self.tree_head().sign(key)
            AuditLog(self.store, key=key, clock=lambda: head.timestamp)._insert(
                c, [("tree_head", f"tree-head-{head.tree_size}", head.to_dict())], None)
        return head

    def published_heads(self) -> list[TreeHead]:
        rows = self.conn.execute("SELECT idx, payload FROM audit_log WHERE entry_type = 'tree_head' ORDER BY idx")
        return [TreeHead.from_dict(json.loads(p), f"audit entry {i}") for i, p in rows]

    # -- proofs -----------------------------------------------------------------------------
    def _head_at(self, size: int, tree: merkle.MerkleTree) -> TreeHead:
        for head in reversed(self.published_heads()):
            if head.tree_size == size:
                return head
        return TreeHead(size, tree.root(size), self.clock())

    def prove(self, subject: str | int, *, size: int | None = None,
              entry_type: str | None = None) -> InclusionProof:
        """An inclusion proof of an entry (by index, or the newest about a subject id).

        ``size`` defaults to the newest published head that holds the entry, else the whole log;
        the proof carries the signed head of that size when one was published.
        """
        e = self.entry(subject) if isinstance(subject, int) else self.latest(subject, entry_type)
        n = self.size()
        if size is None:
            covering = [h.tree_size for h in self.published_heads() if h.tree_size > e.index]
            size = max(covering) if covering else n
        if not e.index < size <= n:
            raise NotFound(f"tree size (above entry {e.index}, at most the log's {n} entries)", size)
        tree = merkle.MerkleTree(self._leaves(size))
        return InclusionProof(e, self.payload(e.index), size, tuple(tree.inclusion_proof(e.index, size)),
                              self._head_at(size, tree))

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        n = self.size() if new_size is None else new_size
        if not 0 <= old_size <= n <= self.size():
            raise NotFound(f"pair of log sizes (the log has {self.size()} entries)", (old_size, n))
        tree = merkle.MerkleTree(self._leaves(n))
        return ConsistencyProof(old_size, tree.root(old_size), n, tree.root(n),
                                tuple(tree.consistency_proof(old_size, n)))

    # -- verification -----------------------------------------------------------------------
    def verify(self, public_keys: Ed25519PublicKey | Sequence[Ed25519PublicKey] | None = None, *,
               heads: Sequence[TreeHead] = (), check_tables: bool = True) -> VerifyResult:
        """Recompute every leaf from its stored fields and payload, the tree heads and signatures.

        ``heads`` are tree heads held elsewhere (published, sent to a party): each must be the
        root of the log at its size. With ``public_keys``, every signature is checked and a
        verdict, report or tree head without one is a problem. ``check_tables`` compares the
        ``records`` and ``allegations`` tables with their newest logged versions.
        """
        if isinstance(public_keys, Ed25519PublicKey):
            public_keys = [public_keys]
        keys = {key_id(k): k for k in public_keys or ()}
        problems: list[Problem] = []
        scan = self._scan(keys, {h.tree_size for h in heads} | self._claimed_head_sizes(), problems)
        for idx, subject, payload in scan.logged_heads:
            self._check_logged_head(idx, subject, payload, scan.roots, keys, problems)
        for head in heads:
            if head.tree_size > scan.size:
                problems.append(Problem(f"tree head of size {head.tree_size}", f"the log has only {scan.size} "
                                        "entries: entries were removed", scan.size))
            elif scan.roots[head.tree_size] != head.root_hash:
                problems.append(Problem(f"tree head of size {head.tree_size}", f"its root {head.root_hash.hex()} "
                                        f"is not the log's {scan.roots[head.tree_size].hex()}: an entry before "
                                        f"{head.tree_size} was changed", head.tree_size - 1))
        if check_tables:
            problems += self._check_tables()
        problems.sort(key=lambda p: p.index if p.index is not None else scan.size)
        return VerifyResult(not problems, scan.size, scan.root, scan.n_signatures, len(scan.logged_heads),
                            tuple(problems[:MAX_PROBLEMS]), len(problems))

    def _claimed_head_sizes(self) -> set[int]:
        """The sizes the logged tree heads claim (a garbled one is reported with its entry)."""
        sizes = set()
        for (payload,) in self.conn.execute("SELECT payload FROM audit_log WHERE entry_type = 'tree_head'"):
            try:
                sizes.add(int(json.loads(payload)["tree_size"]))
            except (ValueError, KeyError, TypeError):
                pass
        return sizes

    def _scan(self, keys: Mapping[str, Ed25519PublicKey], sizes: set[int], problems: list[Problem]) -> _Scan:
        """One pass over the log in index order: every entry rechecked, the roots at ``sizes``."""
        frontier = merkle.MerkleFrontier()
        scan = _Scan(roots={0: merkle.EMPTY_ROOT})
        types: list[str] = []
        for raw in self.conn.execute(_raw_select(self.dialect)):
            idx = raw[0]
            if idx != frontier.size:
                problems.append(Problem(f"entries {frontier.size}..{idx - 1}", "missing from the log",
                                        frontier.size))
                while frontier.size < idx:  # keep positions; the gap cannot match any tree head
                    frontier.append(bytes(32))
                    types.append("")
            row, bad_text = _decode_row(raw)
            etype, subject = row[1], row[2]
            where = f"entry {idx} ({etype} {subject!r})"
            if bad_text:
                problems.append(Problem(where, f"column {bad_text} is not valid UTF-8 text", idx, subject))
                leaf = bytes(32)
            else:
                leaf = self._check_row(row, types, where, problems)
                if keys:
                    scan.n_signatures += self._check_entry_signature(row, keys, where, problems)
                if etype == "tree_head":
                    scan.logged_heads.append((idx, subject, row[3]))
            frontier.append(leaf)
            types.append(etype)
            if frontier.size in sizes:
                scan.roots[frontier.size] = frontier.root()
        scan.size, scan.root = frontier.size, frontier.root()
        return scan

    @staticmethod
    def _check_row(row: tuple, types: list[str], where: str, problems: list[Problem]) -> bytes:
        """The entry's leaf hash recomputed from its columns; problems if it or ``supersedes`` is off."""
        idx, etype, subject, sup = row[0], row[1], row[2], row[4]
        leaf = merkle.leaf_hash(_row_leaf_data(row))
        if leaf != _blob(row[8]):
            problems.append(Problem(where, f"its fields or payload were changed: the stored leaf hash "
                                    f"is {_blob(row[8]).hex()}, recomputed {leaf.hex()}", idx, subject))
        if sup is not None and not (isinstance(sup, int) and 0 <= sup < idx and types[sup] == etype):
            problems.append(Problem(where, f"supersedes entry {sup}, which is not an earlier {etype}",
                                    idx, subject))
        return leaf

    @staticmethod
    def _check_entry_signature(row: tuple, keys: Mapping[str, Ed25519PublicKey], where: str,
                               problems: list[Problem]) -> int:
        idx, etype, subject, kid, sig = row[0], row[1], row[2], row[6], row[7]
        if kid is None or sig is None:
            if etype in SIGNED_TYPES:
                problems.append(Problem(where, f"a {etype} entry that is not signed", idx, subject))
            return 0
        if kid not in keys:
            problems.append(Problem(where, f"signed with key {kid}, which is not among the given "
                                    f"keys ({', '.join(keys)})", idx, subject))
            return 0
        try:
            entry = _row_entry(row)
        except (ValueError, TypeError) as exc:
            problems.append(Problem(where, f"cannot be read: {exc}", idx, subject))
            return 0
        if not _verify_sig(keys[kid], entry.signature or b"", entry.signed_data()):
            problems.append(Problem(where, "the signature does not match the entry", idx, subject))
        return 1

    @staticmethod
    def _check_logged_head(idx: int, subject: str, payload: bytes, roots: Mapping[int, bytes],
                           keys: Mapping[str, Ed25519PublicKey], problems: list[Problem]) -> None:
        where = f"entry {idx} (tree_head {subject!r})"
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

    def _check_tables(self) -> list[Problem]:
        problems = []
        for etype, table, _ in self._tables():
            rows = self.conn.execute(
                f"SELECT {_as_bytes(self.dialect, 'r.id')}, {_as_bytes(self.dialect, 'r.data')}, m.idx, "
                f"a.payload FROM {table} r "
                f"LEFT JOIN (SELECT subject_id, "
                f"max(idx) AS idx FROM audit_log WHERE entry_type = ? GROUP BY subject_id) m "
                f"ON m.subject_id = r.id LEFT JOIN audit_log a ON a.idx = m.idx ORDER BY m.idx", (etype,))
            for rid_raw, data, idx, payload in rows:
                rid = _blob(rid_raw).decode("utf-8", errors="replace")
                if idx is None:
                    problems.append(Problem(f"{table} row {rid!r}", "is not in the audit log (run "
                                            "AuditLog.log_new_records after ingest)", None, rid))
                elif _blob(payload) != _blob(data):
                    problems.append(Problem(f"{table} row {rid!r}", f"differs from its logged version "
                                            f"(entry {idx})", idx, rid))
            for rid_raw, idx in self.conn.execute(
                    f"SELECT {_as_bytes(self.dialect, 'subject_id')}, max(idx) FROM audit_log WHERE entry_type = ? AND "
                    f"subject_id NOT IN (SELECT id FROM {table}) GROUP BY subject_id", (etype,)):
                rid = _blob(rid_raw).decode("utf-8", errors="replace")
                problems.append(Problem(f"{table} row {rid!r}", f"is logged (entry {idx}) but missing "
                                        "from the table", idx, rid))
        return problems


# -- report bundles ------------------------------------------------------------------------------

def check_file_name(name: Any) -> str | None:
    """Why a file name is not a safe relative POSIX path, or ``None``."""
    if not isinstance(name, str) or not name:
        return "not a non-empty string"
    if name.startswith("/") or "\\" in name or "\x00" in name:
        return "must be a relative POSIX path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "has an empty, '.' or '..' part"
    return None


def make_bundle(report_files: Mapping[str, bytes], log: AuditLog, key: Ed25519PrivateKey, *,
                report_id: str, created_at: datetime | None = None) -> bytes:
    """Log a report and pack it into one self-contained, signed file (canonical JSON).

    Appends a signed ``report`` entry whose payload is the manifest (each file's SHA-256 and
    size; a report published again under the same id supersedes its previous entry), publishes
    a signed tree head, and returns the bundle: the files (base64), the manifest and its
    signature, the audit entry, its inclusion proof and the tree head.
    """
    for name in report_files:
        if (why := check_file_name(name)) is not None:
            raise ValueError(f"report file name {name!r}: {why}")
    kid = key_id(key)
    manifest = {"format": "linewatch.report-manifest", "version": 1, "report_id": report_id,
                "created_at": utc_iso(created_at or log.clock(), timespec="microseconds"), "key_id": kid,
                "files": {n: {"sha256": _sha256_hex(b), "size": len(b)} for n, b in sorted(report_files.items())}}
    signer = AuditLog(log.store, key=key, clock=log.clock)
    with signer._tx():
        try:
            previous: int | None = signer.latest(report_id, "report").index
        except NotFound:
            previous = None
        entry = signer.append("report", report_id, manifest, supersedes=previous, sign=True)
    head = signer.publish_tree_head()
    proof = signer.prove(entry.index, size=head.tree_size)
    bundle = {"format": "linewatch.report-bundle", "version": 1,
              "files": {n: base64.b64encode(b).decode("ascii") for n, b in report_files.items()},
              "manifest": manifest, "manifest_signature": key.sign(canonical_json(manifest)).hex(),
              "audit_entry": entry.to_dict(),
              "inclusion_proof": {"leaf_index": entry.index, "tree_size": head.tree_size,
                                  "audit_path": [h.hex() for h in proof.audit_path]},
              "tree_head": head.to_dict()}
    return canonical_json(bundle)


def _parse_bundle(data: bytes) -> tuple[Any, list[Problem]]:
    try:
        bundle = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                            parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, [Problem("bundle", f"not a UTF-8 JSON document: {exc}")]
    problems = []
    try:
        again = canonical_json(bundle)
    except ValueError as exc:
        return None, [Problem("bundle", f"not canonical JSON: {exc}")]
    if again != data:
        at = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b), min(len(again), len(data)))
        problems.append(Problem("bundle", f"not in canonical JSON form (first difference at byte {at})"))
    try:
        _check_format(bundle, "linewatch.report-bundle", "bundle")
    except InputError as exc:
        return None, problems + [Problem("bundle", str(exc))]
    return bundle, problems


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError(f"duplicate keys {sorted(k for k in d if sum(p[0] == k for p in pairs) > 1)}")
    return d


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _bundle_files(bundle: Any, manifest: Any, problems: list[Problem]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    listed = _get(manifest, "files", dict, "manifest")
    packed = _get(bundle, "files", dict, "bundle")
    for name in sorted(set(listed) | set(packed)):
        where = f"file {name!r}"
        if (why := check_file_name(name)) is not None:
            problems.append(Problem(where, f"unsafe name: {why}"))
        elif name not in packed:
            problems.append(Problem(where, "listed in the manifest but not in the bundle"))
        elif name not in listed:
            problems.append(Problem(where, "in the bundle but not in the signed manifest"))
        else:
            try:
                content = _b64(_get(packed, name, str, "files"), "content")
                want_sha = _get(listed[name], "sha256", str, f"manifest.files[{name!r}]")
                want_size = _get(listed[name], "size", int, f"manifest.files[{name!r}]")
            except InputError as exc:
                problems.append(Problem(where, str(exc)))
                continue
            if _sha256_hex(content) != want_sha or len(content) != want_size:
                problems.append(Problem(where, f"content ({len(content)} bytes, SHA-256 {_sha256_hex(content)}) "
                                        f"does not match the manifest ({want_size} bytes, SHA-256 {want_sha})"))
            files[name] = content
    return files


def verify_bundle(data: bytes, public_key: Ed25519PublicKey) -> BundleResult:
    """Check a report bundle with nothing but the public key; every problem names its file or field."""
    bundle, problems = _parse_bundle(data)
    if bundle is None:
        return BundleResult(False, None, problems=tuple(problems))
    kid = key_id(public_key)
    report_id = files = head = entry = None
    try:
        manifest = _get(bundle, "manifest", dict, "bundle")
        _check_format(manifest, "linewatch.report-manifest", "manifest")
        report_id = _get(manifest, "report_id", str, "manifest")
        if _get(manifest, "key_id", str, "manifest") != kid:
            problems.append(Problem("manifest.key_id", f"signed with key {manifest['key_id']}, the given "
                                    f"public key is {kid}"))
        sig = _hex(_get(bundle, "manifest_signature", str, "bundle"), "manifest_signature", 64)
        if not _verify_sig(public_key, sig, canonical_json(manifest)):
            problems.append(Problem("manifest_signature", "does not match the manifest and the public key"))
        files = _bundle_files(bundle, manifest, problems)
    except InputError as exc:
        problems.append(Problem("manifest", str(exc)))
    try:
        entry = AuditEntry.from_dict(_get(bundle, "audit_entry", dict, "bundle"), "audit_entry")
        head = TreeHead.from_dict(_get(bundle, "tree_head", dict, "bundle"), "tree_head")
        ip = _get(bundle, "inclusion_proof", dict, "bundle")
        if entry.entry_type != "report" or entry.subject_id != report_id:
            problems.append(Problem("audit_entry", f"a {entry.entry_type} entry about {entry.subject_id!r}, "
                                    f"not the report {report_id!r}"))
        if "manifest" in bundle and entry.payload_sha256 != _sha256_hex(canonical_json(bundle["manifest"])):
            problems.append(Problem("audit_entry.payload_sha256", "is not the SHA-256 of the manifest"))
        for name, why in (("audit_entry", entry.check_signature(public_key)),
                          ("tree_head", head.check_signature(public_key))):
            if why is not None:
                problems.append(Problem(f"{name}.signature", why))
        path = tuple(_hex(h, f"inclusion_proof.audit_path[{i}]", 32)
                     for i, h in enumerate(_get(ip, "audit_path", list, "inclusion_proof")))
        if _get(ip, "leaf_index", int, "inclusion_proof") != entry.index \
                or _get(ip, "tree_size", int, "inclusion_proof") != head.tree_size:
            problems.append(Problem("inclusion_proof", f"leaf {ip['leaf_index']} of {ip['tree_size']} entries; "
                                    f"the entry is {entry.index}, the tree head has {head.tree_size}"))
        elif not merkle.verify_inclusion(entry.leaf_hash, entry.index, head.tree_size, path, head.root_hash):
            problems.append(Problem("inclusion_proof", "the audit path does not lead from the report's entry "
                                    "to the tree head's root"))
    except InputError as exc:
        problems.append(Problem("audit", str(exc)))
    return BundleResult(not problems, report_id, files or {}, head, entry, tuple(problems))
