"""The tamper-evident audit log as a service: append, sign, prove and verify, with key files.

Every ingested record and allegation, every verdict, every published report and every released
daily report is an entry of the log; entry ``i`` is leaf ``i`` of a Merkle tree hashed as
Certificate Transparency does. A party holding a signed tree head can check with a short proof
that an entry is in the log, and that a later log extends the one they hold. Rows of
``audit_log`` are never updated or deleted (triggers refuse it); a correction is a new entry
whose ``supersedes`` names the index of the entry it corrects. Formats: docs/audit.md.

This module orchestrates; the values and every check are the core's (:mod:`linewatch.audit`:
entries, proofs, bundles, the whole-log check), the SQL is the store's
(:mod:`linewatch.store.audit_tables`). The names of both that callers need are importable from
here too.

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
Checking what a party holds (no store needed; :mod:`linewatch.audit`)
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

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from linewatch.audit import (
    ENTRY_TYPES,
    MAX_PROBLEMS,
    SIGNED_TYPES,
    AuditEntry,
    BundleResult,
    CheckResult,
    ConsistencyProof,
    InclusionProof,
    LogScan,
    MerkleTree,
    Payload,
    Problem,
    TreeHead,
    VerifyResult,
    canonical_json,
    check_consistency,
    check_entry_type,
    check_file_name,
    check_inclusion,
    claimed_head_size,
    key_id,
    pack_bundle,
    payload_bytes,
    read_proof,
    report_manifest,
    sha256_hex,
    verify_bundle,
)
from linewatch.errors import InputError, NotFound, TamperedLog
from linewatch.services.audit_coverage import coverage_problems, grown_supersessions, pending_coverage
from linewatch.store.audit_tables import SYNCED_TABLES, AuditTables
from linewatch.store.integrity import Integrity, run_subject

if TYPE_CHECKING:
    from linewatch.services.audit_witness import Witness
    from linewatch.store import Store

PRIVATE_KEY_NAME = "linewatch-signing-key.pem"
PUBLIC_KEY_NAME = "linewatch-signing-key.pub.pem"

__all__ = ["ENTRY_TYPES", "MAX_PROBLEMS", "PRIVATE_KEY_NAME", "PUBLIC_KEY_NAME", "SIGNED_TYPES", "SYNCED_TABLES",
           "AuditEntry", "AuditLog", "BundleResult", "CheckResult", "ConsistencyProof", "InclusionProof",
           "Payload", "Problem", "TreeHead", "VerifyResult", "canonical_json", "check_consistency",
           "check_file_name", "check_inclusion", "generate_keys", "key_id", "load_private_key",
           "load_public_key", "make_bundle", "read_json_file", "read_proof", "verify_bundle"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def read_json_file(path: str | Path, what: str) -> Any:
    """A JSON file given on the command line; :class:`InputError` naming the file if unreadable."""
    p = Path(path)
    try:
        return json.loads(p.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such {what} file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: not a readable {what} (JSON): {exc}") from exc


# -- key files -------------------------------------------------------------------------------------

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


# -- the log ---------------------------------------------------------------------------------------

class AuditLog:
    """The append-only log in a :class:`~linewatch.store.base.Store` (table ``audit_log``).

    ``key`` signs the entries of :data:`SIGNED_TYPES` and the tree heads; ``clock`` returns the
    current UTC time (injected in tests).
    """

    def __init__(self, store: Store, *, key: Ed25519PrivateKey | None = None,
                 clock: Callable[[], datetime] | None = None, witness: Witness | None = None) -> None:
        self.store = store
        self.tables = AuditTables(store)
        self.key = key
        self.clock = clock or _utc_now
        self.witness = witness

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """The caller's open transaction, or a new one."""
        if self.store.conn.in_transaction:
            yield self.store.conn
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
        self.tables.lock(c, "audit_log")    # the next index is read, then written
        idx = self.tables.next_index(c)
        types: dict[int, str] = {}
        rows: list[tuple[AuditEntry, bytes]] = []
        for item in items:
            payload = payload_bytes(item[2])
            entry = self._new_entry(c, idx, item, payload, now, sign, types)
            rows.append((entry, payload))
            types[idx] = entry.entry_type
            idx += 1
        self.tables.insert(c, rows)
        return [entry for entry, _ in rows]

    def _new_entry(self, c: Any, idx: int, item: tuple, payload: bytes, now: datetime,
                   sign: bool | None, types: Mapping[int, str]) -> AuditEntry:
        """Check one item to append and make its entry, signed if it should be."""
        entry_type, subject_id = item[0], item[1]
        supersedes = item[3] if len(item) > 3 else None
        check_entry_type(entry_type)
        if not isinstance(subject_id, str) or not subject_id:
            raise ValueError(f"entry {idx} ({entry_type}): subject id {subject_id!r} is not a non-empty string")
        if supersedes is not None:
            old = types.get(supersedes) or self.tables.type_of(c, supersedes)
            if old is None or not 0 <= supersedes < idx:
                raise NotFound("audit entry to supersede", supersedes)
            if old != entry_type:
                raise ValueError(f"entry {idx} ({entry_type} {subject_id!r}) cannot supersede "
                                 f"entry {supersedes}, a {old}")
        entry = AuditEntry(idx, entry_type, subject_id, sha256_hex(payload), supersedes, now)
        if self.key is None or not (entry_type in SIGNED_TYPES if sign is None else sign):
            return entry
        return entry.sign(self.key)

    def log_new_records(self, *, full: bool = False) -> int:
        """Append an entry for every row of ``records`` and ``allegations`` not yet in the log,
        and for every verification or allegation run and every supersession not yet in it.

        The payload is the row's stored canonical JSON; an allegation that supersedes another is
        logged as a correction of the other's latest entry. Idempotent; returns how many were added.
        Rows are logged in insertion (rowid) order, so by default only rows after the last one
        logged are looked at, and a supersession whose hidden records these new ones extend is
        logged again (a stream's batch goes on after a reprocess superseded its window). ``full``
        (``linewatch audit sync``, an operator's deliberate catch-up) looks at every row and also
        logs the runs and supersessions not in the log: routine writes never do, so a run or a
        ``superseded`` row written past linewatch stays a problem for ``audit verify``.
        """
        added = 0
        new_records: list[str] = []
        with self._tx() as c:
            # no record writer between its row id and its commit: none can land behind us
            self.tables.lock(c, "records")
            self.tables.lock(c, "audit_log")
            for etype, table, has_sup in self.tables.synced_tables():
                after = 0 if full else self.tables.last_logged_rowid(c, etype, table)
                rows = self.tables.unlogged_rows(c, etype, table, has_sup, after)
                start = self.tables.next_index(c)
                items: list[tuple] = []
                in_batch: dict[str, int] = {}
                for rid, data, old_id in rows:
                    prev = in_batch.get(old_id) if old_id is not None else None
                    if old_id is not None and prev is None:
                        prev = self.tables.latest_index(c, etype, old_id)
                    in_batch[rid] = start + len(items)
                    items.append((etype, rid, data, prev))
                added += len(self._insert(c, items, None))
                if etype == "record":
                    new_records += [str(i[1]) for i in items]
            extra = pending_coverage(self.tables, c) if full else grown_supersessions(self.tables, c, new_records)
            added += len(self._insert(c, extra, None))
        return added

    def log_run(self, kind: str, run_id: int) -> AuditEntry:
        """Log a verification (``kind="verification"``) or allegation run just stored, as its
        digest; inside the transaction that stored it, so the two commit together."""
        digest = Integrity(self.store).run_digest(kind, run_id)
        if digest is None:
            raise NotFound(f"{kind} run", run_id)
        return self.append("run", run_subject(kind, run_id), digest)

    def log_supersessions(self, by_run: int) -> int:
        """Log what fusion run ``by_run`` supersedes (inside the transaction that finishes it)."""
        with self._tx() as c:
            logged = self.tables.logged_subjects(c, "supersession")
            items = [("supersession", s, d) for s, d in Integrity(self.store).supersessions(skip=logged, by_run=by_run)]
            return len(self._insert(c, items, None))

    # -- reading ----------------------------------------------------------------------------
    def size(self) -> int:
        return self.tables.next_index()

    def entry(self, index: int) -> AuditEntry:
        row = self.tables.entry(index)
        if row is None:
            raise NotFound("audit entry", index)
        return row.entry()

    def payload(self, index: int) -> bytes:
        got = self.tables.payload(index)
        if got is None:
            raise NotFound("audit entry", index)
        return got

    def latest(self, subject_id: str, entry_type: str | None = None) -> AuditEntry:
        """The newest entry about ``subject_id`` (the current version after corrections)."""
        row = self.tables.latest(subject_id, entry_type)
        if row is None:
            raise NotFound(f"{entry_type or 'audit'} entry for", subject_id)
        return row.entry()

    def entries(self, *, subject_id: str | None = None, entry_type: str | None = None) -> list[AuditEntry]:
        return [r.entry() for r in self.tables.entries(subject_id=subject_id, entry_type=entry_type)]

    def tree_head(self, size: int | None = None) -> TreeHead:
        """The unsigned head of the log (of its first ``size`` entries), from the stored leaf hashes."""
        n = self.size() if size is None else size
        if not 0 <= n <= self.size():
            raise NotFound("audit log size", n)
        return TreeHead(n, MerkleTree(self.tables.leaves(n)).root(), self.clock())

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
        self._check_extends_witness()
        with self._tx() as c:
            head = self.tree_head().sign(key)
            AuditLog(self.store, key=key, clock=lambda: head.timestamp)._insert(
                c, [("tree_head", f"tree-head-{head.tree_size}", head.to_dict())], None)
        if self.witness is not None:
            self.witness.save(head, self.tables.leaves(head.tree_size))
        return head

    def _check_extends_witness(self) -> None:
        """Refuse (:class:`TamperedLog`) to sign a log that does not extend what the witness holds:
        a head signed over a cut or changed log would launder it."""
        held = self.witness.load() if self.witness is not None else None
        if held is None:
            return
        n = held[0].tree_size
        if self.size() < n or self.tables.leaves(n) != held[1]:
            raise TamperedLog(f"{self.witness.path if self.witness else ''}: the log does not extend the "
                              f"{n} entries the witness holds; not signing it (run linewatch audit verify)")

    def published_heads(self) -> list[TreeHead]:
        return [TreeHead.from_dict(json.loads(p), f"audit entry {i}") for i, p in self.tables.tree_head_payloads()]

    # -- proofs -----------------------------------------------------------------------------
    def _head_at(self, size: int, tree: MerkleTree) -> TreeHead:
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
        tree = MerkleTree(self.tables.leaves(size))
        return InclusionProof(e, self.payload(e.index), size, tuple(tree.inclusion_proof(e.index, size)),
                              self._head_at(size, tree))

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        n = self.size() if new_size is None else new_size
        if not 0 <= old_size <= n <= self.size():
            raise NotFound(f"pair of log sizes (the log has {self.size()} entries)", (old_size, n))
        tree = MerkleTree(self.tables.leaves(n))
        return ConsistencyProof(old_size, tree.root(old_size), n, tree.root(n),
                                tuple(tree.consistency_proof(old_size, n)))

    # -- verification -----------------------------------------------------------------------
    def verify(self, public_keys: Ed25519PublicKey | Sequence[Ed25519PublicKey] | None = None, *,
               heads: Sequence[TreeHead] = (), check_tables: bool = True) -> VerifyResult:
        """Recompute every leaf from its stored fields and payload, the tree heads and signatures.

        ``heads`` are tree heads held elsewhere (published, sent to a party): each must be the
        root of the log at its size; so must the log's :attr:`witness`, whose leaves name the
        first entry changed since it was taken (:mod:`linewatch.services.audit_witness`). With
        ``public_keys``, every signature is checked and a verdict, report or tree head without
        one is a problem. ``check_tables`` compares the tables with their newest logged versions:
        records and allegations (their JSON and every column derived from it), agreements, runs,
        supersessions and released reports (:mod:`linewatch.services.audit_coverage`).
        """
        if isinstance(public_keys, Ed25519PublicKey):
            public_keys = [public_keys]
        keys = {key_id(k): k for k in public_keys or ()}
        held = self.witness.load() if self.witness is not None else None
        if held is not None:
            heads = [*heads, held[0]]
        claimed = {claimed_head_size(p) for _, p in self.tables.tree_head_payloads()}
        scan = LogScan(keys, {h.tree_size for h in heads} | {s for s in claimed if s is not None},
                       witness=held[1] if held is not None else b"")
        for row, bad_text in self.tables.scan():
            scan.add(row, bad_text)
        return scan.result(heads, self._check_tables() if check_tables else ())

    def update_witness(self, result: VerifyResult) -> bool:
        """After a passing :meth:`verify`, bring the witness up to the log's size (a signed head
        it holds is kept while the log has not grown); whether it changed."""
        if self.witness is None or not result.ok:
            return False
        held = self.witness.load()
        if held is not None and held[0].tree_size >= result.size:
            return False
        head = TreeHead(result.size, result.root_hash, self.clock())
        self.witness.save(head, self.tables.leaves(result.size))
        return True

    def _check_tables(self) -> list[Problem]:
        """Every row of the synced tables must be its newest logged version, and every logged one there."""
        problems = []
        for etype, table, _ in self.tables.synced_tables():
            for rid, data, idx, payload in self.tables.table_vs_log(etype, table):
                if idx is None:
                    problems.append(Problem(f"{table} row {rid!r}", "is not in the audit log (run "
                                            "AuditLog.log_new_records after ingest)", None, rid))
                elif payload != data:
                    problems.append(Problem(f"{table} row {rid!r}", f"differs from its logged version "
                                            f"(entry {idx})", idx, rid))
            for rid, idx in self.tables.logged_not_in_table(etype, table):
                problems.append(Problem(f"{table} row {rid!r}", f"is logged (entry {idx}) but missing "
                                        "from the table", idx, rid))
        return problems + coverage_problems(self.tables)


# -- report bundles --------------------------------------------------------------------------------

def make_bundle(report_files: Mapping[str, bytes], log: AuditLog, key: Ed25519PrivateKey, *,
                report_id: str, created_at: datetime | None = None) -> bytes:
    """Log a report and pack it into one self-contained, signed file (canonical JSON).

    Appends a signed ``report`` entry whose payload is the manifest (each file's SHA-256 and
    size; a report published again under the same id supersedes its previous entry), publishes
    a signed tree head, and returns the bundle: the files (base64), the manifest and its
    signature, the audit entry, its inclusion proof and the tree head.
    """
    manifest = report_manifest(report_files, report_id=report_id, created_at=created_at or log.clock(),
                               signer_key_id=key_id(key))
    signer = AuditLog(log.store, key=key, clock=log.clock, witness=log.witness)
    with signer._tx():
        try:
            previous: int | None = signer.latest(report_id, "report").index
        except NotFound:
            previous = None
        entry = signer.append("report", report_id, manifest, supersedes=previous, sign=True)
    head = signer.publish_tree_head()
    proof = signer.prove(entry.index, size=head.tree_size)
    return pack_bundle(report_files, manifest, key.sign(canonical_json(manifest)), entry, proof.audit_path, head)
