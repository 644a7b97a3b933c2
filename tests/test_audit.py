"""The audit log: append-only storage, signatures, proofs, tamper detection, bundles and the CLI,
on both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from linewatch.audit import (
    ENTRY_TYPES,
    SIGNED_TYPES,
    AuditEntry,
    ConsistencyProof,
    InclusionProof,
    LogScan,
    StoredEntry,
    TreeHead,
    canonical_json,
    check_consistency,
    check_inclusion,
    key_id,
    read_proof,
    verify_bundle,
)
from linewatch.audit import merkle as merkle
from linewatch.cli.audit import EXIT_VERIFICATION_FAILED, audit_app, keys_app
from linewatch.errors import InputError, NotFound
from linewatch.model.time import utc_iso
from linewatch.services.audit import (
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    AuditLog,
    generate_keys,
    load_private_key,
    load_public_key,
    make_bundle,
)
from linewatch.store import open_store

T0 = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Clock:
    """A fixed clock that moves one second per reading."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_keys(d)
    return d


@pytest.fixture(scope="module")
def key(keydir):
    return load_private_key(keydir / PRIVATE_KEY_NAME)


@pytest.fixture(scope="module")
def pub(keydir):
    return load_public_key(keydir / PUBLIC_KEY_NAME)


def _record(i: int) -> dict:
    return {"id": f"rec-{i:03d}", "kind": "explosion", "explosion_type": "impact",
            "time": f"2025-06-01T10:{i % 60:02d}:00Z", "lon": 37.0 + i * 0.01, "lat": 48.0,
            "radius_m": 500, "source_kind": "observation_post", "source_id": f"OP-{i % 3}"}


def _add_allegation(store, aid: str, supersedes: str | None = None) -> None:
    data = {"id": aid, "alleging_party": "A", "kind": "shelling", "supersedes": supersedes}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    with store.transaction() as c:
        c.execute("INSERT INTO allegations (id, alleging_party, kind, start_s, end_s, lon, lat, supersedes, "
                  "content_hash, data, ingested_at) VALUES (?, 'A', 'shelling', 0, 1, 37, 48, ?, 'h', ?, ?)",
                  (aid, supersedes, text, T0.isoformat()))
        c.execute("INSERT INTO review (subject_kind, subject_id, state, updated_at) "   # as the store enters it
                  "VALUES ('allegation', ?, 'received', ?)", (aid, T0.isoformat()))


def _build(path: Path | str, key, *, n_records: int = 12, src: Path | None = None) -> None:
    """A store with ingested records and allegations, verdicts, a correction and published heads."""
    from linewatch.services import ingest_file
    src = src or Path(path).with_suffix(".jsonl")
    src.write_text("".join(json.dumps(_record(i)) + "\n" for i in range(n_records)), encoding="utf-8")
    with open_store(path) as store:
        ingest_file(store, src)
        _add_allegation(store, "AL-1")
        _add_allegation(store, "AL-2", supersedes="AL-1")
        log = AuditLog(store, key=key, clock=Clock())
        log.log_new_records()  # whatever ingest did not log already
        assert log.size() == n_records + 2 and log.latest("AL-2").index == n_records + 1
        log.publish_tree_head()
        v = log.append_many([("verdict", f"V{i}", {"record": f"rec-{i:03d}", "verdict": "violation"})
                             for i in range(4)])
        log.append("verdict", "V1", {"record": "rec-001", "verdict": "compliant"}, supersedes=v[1].index)
        log.publish_tree_head()


@pytest.fixture(scope="module")
def template(tmp_path_factory, key):
    path = tmp_path_factory.mktemp("tpl") / "audit.sqlite"
    _build(path, key)
    return path


@pytest.fixture
def db(template, tmp_path, store_kind, new_store_url, key):
    """The built store: a copy of the template (SQLite), or built anew (PostgreSQL)."""
    if store_kind == "sqlite":
        path = tmp_path / "audit.sqlite"
        shutil.copy(template, path)
        return str(path)
    url = new_store_url("audit")
    _build(url, key, src=tmp_path / "audit.jsonl")
    return url


@pytest.fixture(scope="module")
def pg_template(key, tmp_path_factory):
    """One built PostgreSQL store for the tamper properties, each of which rolls back."""
    from conftest import _store_factory, need_pg
    need_pg()
    d = tmp_path_factory.mktemp("pgtpl")
    make, drop = _store_factory("postgresql", d)
    url = make("audit")
    _build(url, key, src=d / "audit.jsonl")
    yield url
    drop()


def _unlock(conn, dialect: str = "sqlite") -> None:
    """What a tamperer with the database does first."""
    if dialect == "sqlite":
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")


def _append_only_error():
    import psycopg
    return (sqlite3.IntegrityError, psycopg.errors.IntegrityError)


# -- keys -----------------------------------------------------------------------------------------

def test_keys_are_written_private_and_never_silently_replaced(tmp_path):
    priv, pub = generate_keys(tmp_path / "k")
    assert priv.stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in priv.read_bytes() and b"BEGIN PUBLIC KEY" in pub.read_bytes()
    kid = key_id(load_public_key(pub))
    assert kid == key_id(load_private_key(priv)) and len(kid) == 16 and int(kid, 16) >= 0
    with pytest.raises(InputError, match="a key already exists"):
        generate_keys(tmp_path / "k")
    generate_keys(tmp_path / "k", force=True)
    assert key_id(load_public_key(pub)) != kid


def test_bad_key_files_are_named(tmp_path, keydir):
    with pytest.raises(InputError, match="cannot read the key file"):
        load_public_key(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(InputError, match="junk.pem: not a PEM public key"):
        load_public_key(tmp_path / "junk.pem")
    with pytest.raises(InputError, match="junk.pem: not an unencrypted PEM private key"):
        load_private_key(tmp_path / "junk.pem")
    with pytest.raises(InputError, match="this is a private key"):
        load_public_key(keydir / PRIVATE_KEY_NAME)


# -- appending ----------------------------------------------------------------------------------

def test_entries_are_leaves_of_canonical_json(store_url, key, pub):
    with open_store(store_url) as store:
        log = AuditLog(store, key=key, clock=Clock())
        r = log.append("record", "R1", {"b": 1, "a": "é"})
        v = log.append("verdict", "V1", b"\x00raw bytes")
        t = log.append("report", "D1", "text")
        assert [r.index, v.index, t.index] == [0, 1, 2] and log.size() == 3
        assert log.payload(0) == '{"a":"é","b":1}'.encode() == canonical_json({"b": 1, "a": "é"})
        assert r.signature is None and v.signature is not None and t.key_id == key_id(key)
        assert v.check_signature(pub) is None and r.check_signature(pub) == "not signed"
        assert json.loads(r.leaf_data()) == r.to_dict()
        assert log.entry(1) == v and log.latest("V1") == v
        stored = [bytes(h) for (h,) in store.conn.execute("SELECT leaf_hash FROM audit_log ORDER BY idx")]
        assert stored == [merkle.leaf_hash(e.leaf_data()) for e in (r, v, t)]
        assert log.tree_head().root_hash == merkle.root(stored)
        assert r.appended_at.tzinfo is not None


def test_bad_appends_are_refused(store_url):
    with open_store(store_url) as store:
        log = AuditLog(store)
        log.append("record", "R1", {})
        with pytest.raises(ValueError, match="entry type 'Record!'"):
            log.append("Record!", "R2", {})
        with pytest.raises(ValueError, match="subject id ''"):
            log.append("record", "", {})
        with pytest.raises(NotFound, match="audit entry to supersede 7"):
            log.append("record", "R1", {}, supersedes=7)
        log.append("verdict", "V1", {})
        with pytest.raises(ValueError, match="cannot supersede entry 0, a record"):
            log.append("verdict", "V1", {}, supersedes=0)
        with pytest.raises(ValueError, match="needs the AuditLog to have a key"):
            log.append("verdict", "V2", {}, sign=True)
        assert log.size() == 2


def test_rows_cannot_be_updated_or_deleted(db):
    with open_store(db) as store:
        for sql in ("UPDATE audit_log SET subject_id = 'x' WHERE idx = 0",
                    "DELETE FROM audit_log WHERE idx = 0", "DELETE FROM audit_log"):
            with pytest.raises(_append_only_error(), match="append-only"):
                store.conn.execute(sql)


def test_append_joins_the_callers_transaction(store_url):
    with open_store(store_url) as store:
        log = AuditLog(store)
        with pytest.raises(RuntimeError), store.transaction():
            log.append("record", "R1", {})
            raise RuntimeError("the ingest failed")
        assert log.size() == 0


def test_corrections_and_synced_tables(db):
    with open_store(db) as store:
        log = AuditLog(store)
        assert log.log_new_records() == 0  # idempotent
        al2 = log.latest("AL-2", "allegation")
        assert al2.supersedes == log.latest("AL-1").index
        v1 = log.entries(subject_id="V1")
        assert len(v1) == 2 and v1[1].supersedes == v1[0].index and log.latest("V1") == v1[1]
        assert json.loads(log.payload(v1[1].index))["verdict"] == "compliant"
        assert [h.tree_size for h in log.published_heads()] == [14, 20]


def test_a_released_daily_report_is_an_entry_of_a_known_type(store_url, key, pub):
    """Issue 14: releasing a daily report logs a ``release`` entry, a type ENTRY_TYPES lacked.
    The entry is what services.submissions writes; it reads back, proves and verifies."""
    from linewatch.services.submissions import release_daily_report
    assert "release" in ENTRY_TYPES and "release" not in SIGNED_TYPES
    with open_store(store_url) as store:
        store.put_daily_report("2026-06-15", report_json="{}", files=[("report.json", "application/json", b"{}")],
                               built_by="analyst", agreement_sha256=None)
        release_daily_report(store, date(2026, 6, 15), released_by="analyst")
        log = AuditLog(store, key=key, clock=Clock())
        head = log.publish_tree_head()
        proof = log.prove("daily-report:2026-06-15")
        assert {e.entry_type for e in log.entries()} <= set(ENTRY_TYPES)
        assert log.verify(pub).ok  # a release is not signed, and need not be
    again = read_proof(json.loads(json.dumps(proof.to_dict())), "release.proof.json")
    assert again == proof and again.entry.entry_type == "release"
    assert json.loads(again.payload)["files"] == {"report.json": hashlib.sha256(b"{}").hexdigest()}
    assert AuditEntry.from_dict(again.entry.to_dict()).leaf_hash == proof.entry.leaf_hash
    assert check_inclusion(again, head, pub).ok


def test_services_audit_keeps_the_names_others_import():
    """services (ingest, verify, report, fuse), submissions, demo, streaming, web and cli import these from there."""
    import linewatch.audit as core
    import linewatch.services.audit as svc
    for name in ("AuditLog", "make_bundle", "generate_keys", "load_private_key", "load_public_key",
                 "read_json_file", "PRIVATE_KEY_NAME", "PUBLIC_KEY_NAME", "SYNCED_TABLES"):
        assert name in svc.__all__ and hasattr(svc, name)
    for name in ("ENTRY_TYPES", "SIGNED_TYPES", "AuditEntry", "TreeHead", "InclusionProof", "ConsistencyProof",
                 "Problem", "CheckResult", "VerifyResult", "BundleResult", "canonical_json", "key_id",
                 "read_proof", "check_inclusion", "check_consistency", "check_file_name", "verify_bundle"):
        assert getattr(svc, name) is getattr(core, name), name


def test_the_whole_log_check_is_core_and_needs_no_store(key, pub):
    """LogScan checks rows handed to it (as the store spells them) without a database."""
    entries = [AuditEntry(i, "record", f"R{i}", hashlib.sha256(b"{}").hexdigest(), None, T0) for i in range(3)]
    entries.append(AuditEntry(3, "verdict", "V1", hashlib.sha256(b"{}").hexdigest(), None, T0).sign(key))

    def row(e: AuditEntry, **change) -> StoredEntry:
        d = e.to_dict()
        fields = dict(idx=e.index, entry_type=e.entry_type, subject_id=e.subject_id, payload=b"{}",
                      supersedes=e.supersedes, appended_at=d["appended_at"], key_id=e.key_id,
                      signature=d["signature"], leaf_hash=e.leaf_hash)
        return StoredEntry(**{**fields, **change})

    scan = LogScan({key_id(pub): pub}, [2])
    for e in entries:
        scan.add(row(e))
    r = scan.result()
    assert r.ok and r.size == 4 and r.n_signatures == 1
    assert r.root_hash == merkle.root([e.leaf_hash for e in entries]) and scan.roots[2] == merkle.root(
        [e.leaf_hash for e in entries[:2]])
    scan = LogScan({key_id(pub): pub}, [])
    for e in entries:
        scan.add(row(e, payload=b"{ }") if e.index == 1 else row(e))
    r = scan.result()
    assert not r.ok and str(r.first).startswith("entry 1 (record 'R1'): its fields or payload were changed")


# -- verification ----------------------------------------------------------------------------------

def test_an_untouched_log_verifies(db, pub):
    with open_store(db) as store:
        r = AuditLog(store).verify(pub)
    assert r.ok and r.problems == () and r.size == 21
    assert r.n_tree_heads == 2 and r.n_signatures == 5 + 2  # verdicts and tree heads


def test_wrong_key_and_missing_signature_are_named(db, tmp_path, pub):
    other = load_public_key(generate_keys(tmp_path / "other")[1])
    with open_store(db) as store:
        log = AuditLog(store)
        r = log.verify(other)
        assert not r.ok and r.first.index == 14 and "signed with key" in r.first.what  # the first head
        assert log.verify([other, pub]).ok  # an old key and the current one
        log.append("verdict", "V9", {})  # a log without a key signs nothing
        r = log.verify(pub)
        assert not r.ok and str(r.first) == "entry 21 (verdict 'V9'): a verdict entry that is not signed"
        assert log.verify().ok  # without keys, signatures are not checked


class _Tamper:
    """A tamperer's raw access to a built store: a copy of the SQLite template, or the PostgreSQL
    template inside a transaction that is rolled back afterwards."""

    def __init__(self, kind: str, template: Path, tmp_path: Path, pg_url: str | None, n: int) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.path = tmp_path / f"t{n}.sqlite"
            shutil.copy(template, self.path)
            self.conn = sqlite3.connect(self.path, isolation_level=None)
            self.store = None
        else:
            self.store = open_store(pg_url)
            self.conn = self.store.conn
            self.conn.execute("BEGIN")

    def bytes_of(self, table: str, column: str, where: str, arg) -> bytes | None:
        text = column not in ("payload", "leaf_hash")
        expr = (f"CAST({column} AS BLOB)" if self.kind == "sqlite" else f"convert_to({column}, 'UTF8')") \
            if text else column
        got = self.conn.execute(f"SELECT {expr} FROM {table} WHERE {where} = ?", (arg,)).fetchone()[0]
        return None if got is None else bytes(got)

    def set_bytes(self, table: str, column: str, where: str, arg, value: bytes) -> None:
        if column in ("payload", "leaf_hash"):
            expr = "?"
        elif self.kind == "sqlite":
            expr = "CAST(? AS TEXT)"
        else:
            try:                    # PostgreSQL's text is UTF-8: a tamperer cannot store other bytes
                value.decode("utf-8")
            except UnicodeDecodeError:
                self.close()
                reject()
            expr = "convert_from(?, 'UTF8')"
        self.conn.execute(f"UPDATE {table} SET {column} = {expr} WHERE {where} = ?", (value, arg))

    def verify(self, pub):
        if self.kind == "sqlite":
            self.conn.close()
            with open_store(self.path) as store:
                return AuditLog(store).verify(pub)
        try:
            return AuditLog(self.store).verify(pub)
        finally:
            self.close()

    def close(self) -> None:
        if self.store is not None:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.store.close()
            self.store = None


@pytest.fixture(params=["sqlite", "postgresql"])
def tamper(request, template, tmp_path):
    """``tamper(n)``: a :class:`_Tamper` of the built store, on each store."""
    pg_url = request.getfixturevalue("pg_template") if request.param == "postgresql" else None
    made: list[_Tamper] = []

    def make(n: int) -> _Tamper:
        made.append(_Tamper(request.param, template, tmp_path, pg_url, n))
        return made[-1]
    yield make
    for t in made:
        t.close()


@SETTINGS
@given(data=st.data())
def test_any_changed_byte_of_any_entry_is_detected_and_located(tamper, pub, data):
    t = tamper(data.draw(st.integers(0, 10**9)))
    n = t.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    idx = data.draw(st.integers(0, n - 1), label="entry")
    column = data.draw(st.sampled_from(["payload", "leaf_hash", "subject_id", "appended_at", "signature"]),
                       label="column")
    value = t.bytes_of("audit_log", column, "idx", idx)
    if value is None:  # an unsigned entry: change its payload instead
        column = "payload"
        value = t.bytes_of("audit_log", column, "idx", idx)
    pos = data.draw(st.integers(0, len(value) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    changed = bytearray(value)
    changed[pos] ^= 1 << bit
    _unlock(t.conn, t.kind)
    t.set_bytes("audit_log", column, "idx", idx, bytes(changed))
    r = t.verify(pub)
    assert not r.ok
    assert r.first.index == idx, (column, pos, str(r.first))
    assert r.first.where.startswith(f"entry {idx} ")


@SETTINGS
@given(data=st.data())
def test_any_changed_byte_of_a_stored_record_is_detected_and_located(tamper, pub, data):
    t = tamper(data.draw(st.integers(0, 10**9)))
    table = data.draw(st.sampled_from(["records", "allegations"]))
    ids = [r[0] for r in t.conn.execute(f"SELECT id FROM {table} ORDER BY id")]
    rid = data.draw(st.sampled_from(ids), label="id")
    value = t.bytes_of(table, "data", "id", rid)
    pos = data.draw(st.integers(0, len(value) - 1), label="byte")
    changed = bytearray(value)
    changed[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    t.set_bytes(table, "data", "id", rid, bytes(changed))
    r = t.verify(pub)
    assert not r.ok and r.n_problems == 1
    assert r.first.subject_id == rid and r.first.where == f"{table} row {rid!r}"
    assert "differs from its logged version" in r.first.what


def test_rewritten_leaf_hashes_are_caught_by_the_signed_heads(db, pub):
    """A tamperer who also recomputes the stored leaf hash is caught by the heads signed before."""
    with open_store(db) as store:
        log = AuditLog(store)
        held = log.published_heads()[0]  # a party holds this head (14 entries)
        e = log.entry(3)
        forged = AuditEntry(3, e.entry_type, e.subject_id, hashlib.sha256(b'{"forged":true}').hexdigest(),
                            e.supersedes, e.appended_at)
        _unlock(store.conn, store.dialect)
        store.conn.execute("UPDATE audit_log SET payload = ?, leaf_hash = ? WHERE idx = 3",
                           (b'{"forged":true}', forged.leaf_hash))
        r = log.verify(pub, heads=[held], check_tables=False)
    assert not r.ok
    assert [p.where for p in r.problems] == ["tree head of size 14", "entry 14 (tree_head 'tree-head-14')",
                                             "entry 20 (tree_head 'tree-head-20')"]
    assert "an entry before 14 was changed" in r.first.what


def test_removed_entries_are_named(db, pub):
    with open_store(db) as store:
        head = AuditLog(store).published_heads()[-1]
        _unlock(store.conn, store.dialect)
        store.conn.execute("DELETE FROM audit_log WHERE idx = 5")
        r = AuditLog(store).verify(pub, heads=[head], check_tables=False)
        assert not r.ok and r.first.where == "entries 5..5" and r.first.what == "missing from the log"
        store.conn.execute("DELETE FROM audit_log WHERE idx >= 18")
        r = AuditLog(store).verify(pub, heads=[head], check_tables=False)
        assert any("the log has only 18 entries" in p.what for p in r.problems)


def test_deleted_and_unlogged_records_are_named(db):
    with open_store(db) as store:
        if store.dialect == "sqlite":
            store.conn.execute("DELETE FROM records_rtree WHERE id = (SELECT rowid FROM records "
                               "WHERE id = 'rec-004')")
        store.conn.execute("DELETE FROM records WHERE id = 'rec-004'")
        _add_allegation(store, "AL-3")
        r = AuditLog(store).verify()
    assert [(p.where, p.what.split(" (")[0]) for p in r.problems] == [
        ("records row 'rec-004'", "is logged"), ("allegations row 'AL-3'", "is not in the audit log"),
        ("review row 'record rec-004'", "is the review state of a record that is not stored")]


# -- proofs --------------------------------------------------------------------------------------

def test_every_entry_proves_against_the_head_a_party_holds(db, pub):
    with open_store(db) as store:
        log = AuditLog(store)
        head = log.published_heads()[-1]
        for i in range(head.tree_size):
            proof = log.prove(i)
            assert proof.tree_size == head.tree_size and proof.tree_head == head
            again = read_proof(json.loads(json.dumps(proof.to_dict())))
            assert again == proof
            assert check_inclusion(again, head, pub).ok
        late = log.append("verdict", "V-late", {})
        assert log.prove(late.index).tree_head.signature is None  # no head holds it yet
        early = log.prove("rec-000", size=14)
        assert early.tree_head == log.published_heads()[0]


def test_a_wrong_proof_is_refused_and_says_why(db, pub):
    with open_store(db) as store:
        log = AuditLog(store)
        head = log.published_heads()[-1]
        proof = log.prove("rec-002")
    d = proof.to_dict()
    d["payload"]["data"] = d["payload"]["data"].replace("impact", "launch")
    r = check_inclusion(InclusionProof.from_dict(d), head, pub)
    assert not r.ok and r.first.where == "entry 2 (record 'rec-002') payload"
    d = proof.to_dict()
    d["entry"]["subject_id"] = "rec-003"
    r = check_inclusion(InclusionProof.from_dict(d), head, pub)
    assert not r.ok and "the audit path does not lead" in r.first.what
    d = proof.to_dict()
    d["audit_path"][0] = d["audit_path"][0][::-1]
    assert not check_inclusion(InclusionProof.from_dict(d), head, pub).ok
    smaller = TreeHead(head.tree_size - 1, head.root_hash, head.timestamp)
    assert "ask for a proof against your head" in check_inclusion(proof, smaller).first.what
    forged = TreeHead(head.tree_size, head.root_hash, head.timestamp, head.key_id, bytes(64))
    assert check_inclusion(proof, forged, pub).first.where == "tree head"
    d = proof.to_dict()
    d["audit_path"][0] = d["audit_path"][0].upper()
    with pytest.raises(InputError, match=r"proof.audit_path\[0\]: .* is not lower-case hexadecimal"):
        InclusionProof.from_dict(d)


def test_consistency_between_published_heads(db, pub):
    with open_store(db) as store:
        log = AuditLog(store)
        old, new = log.published_heads()
        proof = log.consistency(old.tree_size, new.tree_size)
    again = ConsistencyProof.from_dict(json.loads(json.dumps(proof.to_dict())))
    assert check_consistency(again, old, new, pub).ok
    wrong_old = TreeHead(old.tree_size, merkle.leaf_hash(b"other history"), old.timestamp)
    r = check_consistency(again, wrong_old, new)
    assert not r.ok and r.first.where == "old tree head"
    forked = ConsistencyProof(old.tree_size, merkle.leaf_hash(b"x"), new.tree_size, new.root_hash, proof.proof)
    r = check_consistency(forked, TreeHead(old.tree_size, merkle.leaf_hash(b"x"), old.timestamp), new)
    assert not r.ok and "does not extend" in r.first.what


def test_tree_head_files_are_strict(key):
    head = TreeHead(3, merkle.leaf_hash(b""), T0).sign(key)
    d = head.to_dict()
    assert TreeHead.from_dict(json.loads(json.dumps(d))) == head
    for field_name, value, msg in (("tree_size", -1, "is negative"), ("tree_size", True, "expected int"),
                                   ("root_hash", "ab", "expected 32 bytes"),
                                   ("timestamp", "2026-06-15T06:00:00Z", "not a UTC time as the log writes"),
                                   ("format", "x", "expected 'linewatch.tree-head'")):
        bad = dict(d, **{field_name: value})
        with pytest.raises(InputError, match=msg):
            TreeHead.from_dict(bad, "head.json")


# -- report bundles --------------------------------------------------------------------------------

FILES = {"report.html": b"<html><body>12 allegations received</body></html>",
         "report.json": b'{"allegations": 12}', "map/day.png": bytes(range(256)) * 3}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, key):
    path = tmp_path_factory.mktemp("bundle") / "b.sqlite"
    with open_store(path) as store:
        log = AuditLog(store, clock=Clock())
        log.append_many([("record", f"R{i}", {"i": i}) for i in range(5)])
        return make_bundle(FILES, log, key, report_id="2026-06-15")


def test_a_bundle_verifies_with_the_public_key_alone(bundle, pub):
    r = verify_bundle(bundle, pub)
    assert r.ok and r.problems == ()
    assert r.report_id == "2026-06-15" and dict(r.files) == FILES
    assert r.entry.index == 5 and r.tree_head.tree_size == 6


def test_a_report_published_again_supersedes_the_first(store_url, key, pub):
    with open_store(store_url) as store:
        log = AuditLog(store, clock=Clock())
        first = verify_bundle(make_bundle(FILES, log, key, report_id="2026-06-15"), pub)
        again = verify_bundle(make_bundle(dict(FILES, **{"report.json": b"{}"}), log, key,
                                          report_id="2026-06-15"), pub)
        assert first.ok and again.ok
        assert (first.entry.index, again.entry.index, again.entry.supersedes) == (0, 2, 0)
        assert log.latest("2026-06-15", "report") == again.entry and log.verify(pub).ok


def test_a_bundle_needs_the_right_key(bundle, tmp_path):
    other = load_public_key(generate_keys(tmp_path)[1])
    r = verify_bundle(bundle, other)
    assert not r.ok and r.first.where == "manifest.key_id"


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_changed_byte_of_a_bundle_is_rejected(bundle, pub, data):
    pos = data.draw(st.integers(0, len(bundle) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    changed = bytearray(bundle)
    changed[pos] ^= 1 << bit
    r = verify_bundle(bytes(changed), pub)
    assert not r.ok and r.problems


def _repack(bundle: bytes, change) -> bytes:
    d = json.loads(bundle)
    change(d)
    return canonical_json(d)


@SETTINGS
@given(data=st.data())
def test_any_changed_byte_of_any_report_file_is_named(bundle, pub, data):
    """A tamperer who re-encodes the bundle properly: the changed file is named."""
    name = data.draw(st.sampled_from(sorted(FILES)), label="file")
    pos = data.draw(st.integers(0, len(FILES[name]) - 1), label="byte")
    content = bytearray(FILES[name])
    content[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")

    def change(d):
        d["files"][name] = base64.b64encode(bytes(content)).decode()
    r = verify_bundle(_repack(bundle, change), pub)
    assert not r.ok and [p.where for p in r.problems] == [f"file {name!r}"]
    assert "does not match the manifest" in r.first.what


def test_bundle_signatures_fields_and_files_are_named(bundle, pub):
    def check(change, where):
        r = verify_bundle(_repack(bundle, change), pub)
        assert not r.ok and r.first.where == where, [str(p) for p in r.problems]

    def flip_hex(d, *path):
        obj = d
        for p in path[:-1]:
            obj = obj[p]
        value = obj[path[-1]]
        obj[path[-1]] = ("0" if value[0] != "0" else "1") + value[1:]

    check(lambda d: flip_hex(d, "manifest_signature"), "manifest_signature")
    check(lambda d: flip_hex(d, "tree_head", "signature"), "tree_head.signature")
    check(lambda d: flip_hex(d, "audit_entry", "signature"), "audit_entry.signature")
    check(lambda d: flip_hex(d, "inclusion_proof", "audit_path", 0), "inclusion_proof")
    check(lambda d: d["manifest"].update(report_id="2026-06-16"), "manifest_signature")
    check(lambda d: d["files"].update({"extra.txt": "eA=="}), "file 'extra.txt'")
    check(lambda d: d["files"].pop("report.json"), "file 'report.json'")
    check(lambda d: d["inclusion_proof"].update(leaf_index=4), "inclusion_proof")
    check(lambda d: d.pop("tree_head"), "audit")
    r = verify_bundle(bundle.replace(b'{"audit_entry"', b'{ "audit_entry"'), pub)
    assert not r.ok and "not in canonical JSON form (first difference at byte 1)" in r.first.what
    assert verify_bundle(b"PK\x03\x04", pub).first.what.startswith("not a UTF-8 JSON document")


def test_bundle_file_names_must_be_safe(store_url, key):
    with open_store(store_url) as store:
        for name in ("../etc/passwd", "/abs", "a//b", "a\\b", ""):
            with pytest.raises(ValueError, match="report file name"):
                make_bundle({name: b""}, AuditLog(store), key, report_id="d")


# -- the CLI ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args])
    return run


def test_cli_keys(cli, tmp_path):
    r = cli("keys", "generate", "--dir", tmp_path / "k")
    assert r.exit_code == 0 and "key id:" in r.output
    kid = r.output.split("key id:")[1].split()[0]
    r = cli("keys", "generate", "--dir", tmp_path / "k")
    assert r.exit_code != 0 and isinstance(r.exception, InputError)
    r = cli("keys", "show", "--dir", tmp_path / "k")
    assert r.exit_code == 0 and kid in r.output and "BEGIN PUBLIC KEY" in r.output
    r = cli("keys", "generate", "--dir", tmp_path / "k", "--force")
    assert r.exit_code == 0 and kid not in r.output


def test_cli_verify_prove_and_check(cli, db, keydir, tmp_path):
    pubf, privf = keydir / PUBLIC_KEY_NAME, keydir / PRIVATE_KEY_NAME
    r = cli("audit", "verify", "--db", db, "--public-key", pubf)
    assert r.exit_code == 0 and r.output.startswith("OK: 21 entries") and "7 signatures checked" in r.output
    head = tmp_path / "head.json"
    assert cli("audit", "head", "--db", db, "--sign-with", privf, "--out", head).exit_code == 0
    assert json.loads(head.read_text())["tree_size"] == 21
    proof = tmp_path / "proof.json"
    assert cli("audit", "prove", "rec-007", "--db", db, "--out", proof).exit_code == 0
    r = cli("audit", "check-proof", proof, "--tree-head", head, "--public-key", pubf)
    assert r.exit_code == 0 and "record 'rec-007'" in r.output and "is in the log of 21 entries" in r.output
    d = json.loads(proof.read_text())
    at = datetime.fromisoformat(d["entry"]["appended_at"]) + timedelta(seconds=1)
    d["entry"]["appended_at"] = utc_iso(at, timespec="microseconds")
    proof.write_text(json.dumps(d))
    r = cli("audit", "check-proof", proof, "--tree-head", head)
    assert r.exit_code == EXIT_VERIFICATION_FAILED and "entry 7 (record 'rec-007')" in r.output
    r = cli("audit", "prove", "--db", db)
    assert r.exit_code == 2
    r = cli("audit", "prove", "no-such-id", "--db", db)
    assert isinstance(r.exception, NotFound)
    r = cli("audit", "check-proof", tmp_path / "missing.json", "--tree-head", head)
    assert isinstance(r.exception, InputError) and "missing.json: no such proof file" in str(r.exception)


def test_cli_consistency(cli, db, keydir, tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    priv = keydir / PRIVATE_KEY_NAME
    assert cli("audit", "head", "--db", db, "--sign-with", priv, "--out", old).exit_code == 0
    with open_store(db) as store:
        AuditLog(store).append("verdict", "V-new", {})
    assert cli("audit", "head", "--db", db, "--sign-with", priv, "--out", new).exit_code == 0
    proof = tmp_path / "c.json"
    assert cli("audit", "consistency", old, "--db", db, "--size", 23, "--out", proof).exit_code == 0
    r = cli("audit", "check-proof", proof, "--tree-head", new, "--old-tree-head", old,
            "--public-key", keydir / PUBLIC_KEY_NAME)
    assert r.exit_code == 0 and "the log of 23 entries" in r.output and "extends the log of 21" in r.output
    r = cli("audit", "check-proof", proof, "--tree-head", new)
    assert r.exit_code == 2  # a consistency proof needs both heads
    r = cli("audit", "check-proof", proof, "--tree-head", old, "--old-tree-head", old)
    assert r.exit_code == EXIT_VERIFICATION_FAILED


def test_cli_verify_names_the_first_tampered_entry(cli, db):
    with open_store(db) as store:
        _unlock(store.conn, store.dialect)
        store.conn.execute("UPDATE audit_log SET payload = ? WHERE subject_id = 'V2'",
                           (b'{"verdict":"compliant"}',))
    r = cli("audit", "verify", "--db", db)
    assert r.exit_code == EXIT_VERIFICATION_FAILED
    assert r.output.startswith("FAILED: entry 17 (verdict 'V2'): its fields or payload were changed")
    r = cli("audit", "verify", "--db", db, "--json")
    assert r.exit_code == EXIT_VERIFICATION_FAILED
    got = json.loads(r.stdout)
    assert not got["ok"] and got["problems"][0]["index"] == 17 and got["problems"][0]["subject_id"] == "V2"


def test_cli_verify_report(cli, bundle, keydir, tmp_path):
    path = tmp_path / "day.lwbundle.json"
    path.write_bytes(bundle)
    r = cli("audit", "verify-report", path, "--public-key", keydir / PUBLIC_KEY_NAME, "--extract", tmp_path / "x")
    assert r.exit_code == 0 and "OK: report '2026-06-15', 3 files" in r.output
    assert (tmp_path / "x" / "map" / "day.png").read_bytes() == FILES["map/day.png"]
    path.write_bytes(bundle.replace(b"PGh0bWw+", b"PGh0bWW+"))
    r = cli("audit", "verify-report", path, "--public-key", keydir / PUBLIC_KEY_NAME, "--extract", tmp_path / "y")
    assert r.exit_code == EXIT_VERIFICATION_FAILED and "file 'report.html'" in r.output
    assert not (tmp_path / "y").exists()


def test_cli_sync_and_unsigned_head(cli, store_url):
    db = store_url
    with open_store(db) as store:
        _add_allegation(store, "AL-1")  # stored behind the log's back
        _add_allegation(store, "AL-2", supersedes="AL-1")
    r = cli("audit", "verify", "--db", db)
    assert r.exit_code == EXIT_VERIFICATION_FAILED and "is not in the audit log" in r.output
    assert cli("audit", "verify", "--db", db, "--skip-tables").exit_code == 0
    r = cli("audit", "sync", "--db", db)
    assert r.exit_code == 0 and "2 entries appended" in r.output
    assert cli("audit", "verify", "--db", db).exit_code == 0
    assert "0 entries appended" in cli("audit", "sync", "--db", db).output
    r = cli("audit", "head", "--db", db)
    head = json.loads(r.stdout)
    assert head["tree_size"] == 2 and head["signature"] is None


def test_the_standalone_check_in_the_docs_works(bundle, keydir, tmp_path):
    """docs/audit.md shows how to check a bundle without linewatch; run that script."""
    import re
    import subprocess
    import sys
    doc = (Path(__file__).resolve().parents[1] / "docs" / "audit.md").read_text(encoding="utf-8")
    script = re.search(r"<!-- check_bundle.py -->\n```python\n(.*?)```", doc, re.S).group(1)
    (tmp_path / "check_bundle.py").write_text(script, encoding="utf-8")
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(bundle)
    bad.write_bytes(bundle.replace(b"PGh0bWw+", b"PGh0bWW+"))
    pubf = keydir / PUBLIC_KEY_NAME
    ok = subprocess.run([sys.executable, tmp_path / "check_bundle.py", good, pubf], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: report 2026-06-15 is entry 5 of the log of 6"), ok.stderr
    no = subprocess.run([sys.executable, tmp_path / "check_bundle.py", bad, pubf], capture_output=True, text=True)
    assert no.returncode != 0 and "FAILED: file report.html" in no.stderr
