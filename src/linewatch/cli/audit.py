"""``linewatch keys`` and ``linewatch audit``: signing keys, the tamper-evident log, its proofs.

Mounted by :mod:`linewatch.cli.main` as ``app.add_typer(keys_app, name="keys")`` and
``app.add_typer(audit_app, name="audit")``. Exit codes (docs/audit.md): 0 verified; 4 an input
file (key, proof, tree head, bundle) cannot be read, or a key would be overwritten; 5 store
error; 6 no such entry or tree size; 8 verification failed (the first mismatch is printed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from linewatch.cli.options import DEFAULT_DB, DbOpt
from linewatch.errors import InputError

EXIT_VERIFICATION_FAILED = 8
DEFAULT_KEY_DIR = Path("keys")

keys_app = typer.Typer(rich_markup_mode=None, help="Ed25519 signing keys for verdicts, reports and tree heads.",
                       no_args_is_help=True)
audit_app = typer.Typer(rich_markup_mode=None,
                        help="The tamper-evident log: verify it, prove entries, check proofs and "
                             "report bundles.", no_args_is_help=True)

out = Console(soft_wrap=True)
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
PublicKeyOpt = Annotated[Path | None, typer.Option(
    "--public-key", help="The mission's public key (PEM) to check signatures with.")]


def _store(db: str) -> Any:
    from linewatch.store import open_store
    return open_store(db)


def _write_json(obj: Any, path: Path | None) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if path is None:
        out.print(text, end="", markup=False, highlight=False)
        return
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    err.print(f"wrote {path}", highlight=False, markup=False)


def _fail(problems: Any, n_problems: int | None = None) -> None:
    problems = list(problems)
    err.print(f"[red]FAILED[/]: {escape(str(problems[0]))}", highlight=False, soft_wrap=True)
    n = n_problems if n_problems is not None else len(problems)
    for p in problems[1:10]:
        err.print(f"  also: {p}", highlight=False, markup=False, soft_wrap=True)
    if n > 10:
        err.print(f"  ... {n - 10} more", highlight=False)
    raise typer.Exit(EXIT_VERIFICATION_FAILED)


def _problems_json(problems: Any) -> list[dict[str, Any]]:
    return [{"where": p.where, "what": p.what, "index": p.index, "subject_id": p.subject_id}
            for p in problems]


# -- keys -------------------------------------------------------------------------------------

@keys_app.command("generate")
def keys_generate(
        directory: Annotated[Path, typer.Option("--dir", help="Directory for the key files.")] = DEFAULT_KEY_DIR,
        force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False) -> None:
    """Generate an Ed25519 key pair: the private key (mode 0600) and the public key to publish."""
    from linewatch.audit import key_id
    from linewatch.services.audit import generate_keys, load_public_key
    priv, pub = generate_keys(directory, force=force)
    out.print(f"private key: {priv} (keep it secret; it signs verdicts, reports and tree heads)",
              highlight=False, markup=False)
    out.print(f"public key:  {pub} (give it to the parties)", highlight=False, markup=False)
    out.print(f"key id:      {key_id(load_public_key(pub))}", highlight=False, markup=False)


@keys_app.command("show")
def keys_show(
        directory: Annotated[Path, typer.Option("--dir", help="Directory of the key files.")] = DEFAULT_KEY_DIR,
        public_key: PublicKeyOpt = None) -> None:
    """Print the key id and the public key (PEM)."""
    from cryptography.hazmat.primitives import serialization

    from linewatch.audit import key_id
    from linewatch.services.audit import PUBLIC_KEY_NAME, load_public_key
    path = public_key or directory / PUBLIC_KEY_NAME
    key = load_public_key(path)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    out.print(f"key id: {key_id(key)}  ({path})", highlight=False, markup=False)
    out.print(pem.decode("ascii"), end="", markup=False, highlight=False)


# -- audit ------------------------------------------------------------------------------------

@audit_app.command("verify")
def audit_verify(
        db: DbOpt = DEFAULT_DB,
        public_key: Annotated[list[Path] | None, typer.Option(
            "--public-key", help="Public key(s) to check every signature with (repeat for old keys).")] = None,
        head: Annotated[list[Path] | None, typer.Option(
            "--head", help="A published tree head the log must still match (repeatable).")] = None,
        skip_tables: Annotated[bool, typer.Option(
            "--skip-tables", help="Do not compare the tables (records, allegations, runs, released "
            "reports) with the log.")] = False,
        witness: Annotated[Path | None, typer.Option(
            "--witness", help="The witness directory to check against and keep up to date (default: "
            "beside a SQLite store; for PostgreSQL under ~/.local/state/linewatch/witness).")] = None,
        no_witness: Annotated[bool, typer.Option(
            "--no-witness", help="Neither read nor update a witness.")] = False,
        as_json: JsonOpt = False) -> None:
    """Recompute the whole log: every entry, every tree head, the witness and (with --public-key)
    every signature, and compare the tables with it; name the first entry or row that does not
    match. Exit 8 if anything does not; when all holds, the witness is brought up to date."""
    from linewatch.audit import TreeHead
    from linewatch.services.audit import AuditLog, load_public_key, read_json_file
    from linewatch.services.audit_witness import Witness, default_witness
    keys = [load_public_key(p) for p in public_key or []]
    heads = [TreeHead.from_dict(read_json_file(p, "tree head"), str(p)) for p in head or []]
    with _store(db) as store:
        held = None if no_witness else Witness(witness) if witness is not None else default_witness(store)
        log = AuditLog(store, witness=held)
        r = log.verify(keys or None, heads=heads, check_tables=not skip_tables)
        log.update_witness(r)
    if as_json:
        out.print_json(json.dumps({"ok": r.ok, "size": r.size, "root_hash": r.root_hash.hex(),
                                   "signatures_checked": r.n_signatures, "tree_heads": r.n_tree_heads,
                                   "witness": str(held.path) if held is not None else None,
                                   "n_problems": r.n_problems, "problems": _problems_json(r.problems)}))
        if not r.ok:
            raise typer.Exit(EXIT_VERIFICATION_FAILED)
        return
    if not r.ok:
        _fail(r.problems, r.n_problems)
    sigs = f"{r.n_signatures} signatures checked" if keys else "signatures not checked (no --public-key)"
    out.print(f"OK: {r.size} entries, root {r.root_hash.hex()}, {r.n_tree_heads} tree heads, {sigs}",
              highlight=False, markup=False)
    if held is not None:
        out.print(f"witness: {held.path} holds the log's {r.size} entries", highlight=False, markup=False)


@audit_app.command("prove")
def audit_prove(
        record_id: Annotated[str | None, typer.Argument(help="Record, allegation, verdict or report id.")] = None,
        db: DbOpt = DEFAULT_DB,
        index: Annotated[int | None, typer.Option("--index", help="Prove the entry at this index instead.")] = None,
        entry_type: Annotated[str | None, typer.Option("--type", help="Only entries of this type.")] = None,
        size: Annotated[int | None, typer.Option(
            "--size", help="Prove against the log of this many entries (default: the newest "
                           "published tree head that holds the entry).")] = None,
        out_path: Annotated[Path | None, typer.Option("--out", "-o", help="File (default stdout).")] = None) -> None:
    """Print an inclusion proof of an entry (the newest version of RECORD_ID)."""
    from linewatch.services.audit import AuditLog
    if (record_id is None) == (index is None):
        raise typer.BadParameter("give either RECORD_ID or --index", param_hint="RECORD_ID")
    with _store(db) as store:
        log = AuditLog(store)
        subject: str | int = index if index is not None else record_id  # type: ignore[assignment]
        proof = log.prove(subject, size=size, entry_type=entry_type)
    if proof.tree_head.signature is None:
        err.print(f"note: no tree head of {proof.tree_size} entries was published; a party can check "
                  "this proof only against a head of that size (linewatch audit head)",
                  highlight=False, markup=False)
    _write_json(proof.to_dict(), out_path)


@audit_app.command("check-proof")
def audit_check_proof(
        proof_file: Annotated[Path, typer.Argument(help="An inclusion or consistency proof (JSON).")],
        tree_head: Annotated[Path, typer.Option("--tree-head", help="The published tree head you hold.")],
        old_tree_head: Annotated[Path | None, typer.Option(
            "--old-tree-head", help="For a consistency proof: the earlier tree head you hold.")] = None,
        public_key: PublicKeyOpt = None,
        as_json: JsonOpt = False) -> None:
    """Check a proof against tree heads you hold (no store needed). Exit 8 if it does not hold."""
    from linewatch.audit import ConsistencyProof, TreeHead, check_consistency, check_inclusion, read_proof
    from linewatch.services.audit import load_public_key, read_json_file
    proof = read_proof(read_json_file(proof_file, "proof"), str(proof_file))
    head = TreeHead.from_dict(read_json_file(tree_head, "tree head"), str(tree_head))
    key = load_public_key(public_key) if public_key else None
    if isinstance(proof, ConsistencyProof):
        if old_tree_head is None:
            raise typer.BadParameter("a consistency proof needs the earlier head too", param_hint="--old-tree-head")
        old = TreeHead.from_dict(read_json_file(old_tree_head, "tree head"), str(old_tree_head))
        result = check_consistency(proof, old, head, key)
        said = (f"the log of {head.tree_size} entries (root {head.root_hash.hex()}) extends the log of "
                f"{old.tree_size} entries (root {old.root_hash.hex()})")
    else:
        result = check_inclusion(proof, head, key)
        e = proof.entry
        said = (f"entry {e.index} ({e.entry_type} {e.subject_id!r}, payload SHA-256 {e.payload_sha256}) is "
                f"in the log of {head.tree_size} entries with root {head.root_hash.hex()}")
    if as_json:
        out.print_json(json.dumps({"ok": result.ok, "statement": said if result.ok else None,
                                   "problems": _problems_json(result.problems)}))
        if not result.ok:
            raise typer.Exit(EXIT_VERIFICATION_FAILED)
        return
    if not result.ok:
        _fail(result.problems)
    out.print(f"OK: {said}" + ("" if key else " (signatures not checked: no --public-key)"),
              highlight=False, markup=False)


@audit_app.command("head")
def audit_head(
        db: DbOpt = DEFAULT_DB,
        sign_with: Annotated[Path | None, typer.Option(
            "--sign-with", help="Private key: sign the head and log it as published.")] = None,
        out_path: Annotated[Path | None, typer.Option("--out", "-o", help="File (default stdout).")] = None) -> None:
    """Write the log's tree head; with --sign-with, a signed head that is logged as published."""
    from linewatch.services.audit import AuditLog, load_private_key
    from linewatch.services.audit_witness import default_witness
    key = load_private_key(sign_with) if sign_with else None
    with _store(db) as store:
        log = AuditLog(store, key=key, witness=default_witness(store))
        head = log.publish_tree_head() if key is not None else log.tree_head()
    _write_json(head.to_dict(), out_path)


@audit_app.command("consistency")
def audit_consistency(
        old_head: Annotated[Path, typer.Argument(help="The earlier tree head (JSON) a party holds.")],
        db: DbOpt = DEFAULT_DB,
        size: Annotated[int | None, typer.Option("--size", help="The later log size (default: all).")] = None,
        out_path: Annotated[Path | None, typer.Option("--out", "-o", help="File (default stdout).")] = None) -> None:
    """Print a proof that the log (of --size entries) extends the one of an earlier tree head."""
    from linewatch.audit import TreeHead
    from linewatch.services.audit import AuditLog, read_json_file
    old = TreeHead.from_dict(read_json_file(old_head, "tree head"), str(old_head))
    with _store(db) as store:
        proof = AuditLog(store).consistency(old.tree_size, size)
    if proof.old_root != old.root_hash:
        err.print("[red]warning[/]: " + escape(f"the log's root at {old.tree_size} entries is {proof.old_root.hex()}, "
                  f"not the head's {old.root_hash.hex()}: this log does not extend that head"), highlight=False)
    _write_json(proof.to_dict(), out_path)


@audit_app.command("sync")
def audit_sync(db: DbOpt = DEFAULT_DB) -> None:
    """Log every stored record, allegation, run and supersession that is not in the log yet."""
    from linewatch.services.audit import AuditLog
    with _store(db) as store:
        n = AuditLog(store).log_new_records(full=True)
    out.print(f"{n} entries appended", highlight=False)


@audit_app.command("verify-report")
def audit_verify_report(
        bundle: Annotated[Path, typer.Argument(help="A report bundle (.lwbundle.json).")],
        public_key: Annotated[Path, typer.Option("--public-key", help="The mission's public key (PEM).")],
        extract: Annotated[Path | None, typer.Option(
            "--extract", help="After a successful check, write the report's files here.")] = None,
        as_json: JsonOpt = False) -> None:
    """Check a published report bundle with nothing but the bundle and the public key."""
    from linewatch.audit import check_file_name, verify_bundle
    from linewatch.services.audit import load_public_key
    key = load_public_key(public_key)
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise InputError(f"{bundle}: cannot read the bundle: {exc.strerror or exc}") from exc
    r = verify_bundle(data, key)
    if as_json:
        out.print_json(json.dumps({"ok": r.ok, "report_id": r.report_id, "files": sorted(r.files),
                                   "tree_head": r.tree_head.to_dict() if r.tree_head else None,
                                   "problems": _problems_json(r.problems)}))
    elif r.ok:
        assert r.tree_head is not None and r.entry is not None
        out.print(f"OK: report {r.report_id!r}, {len(r.files)} files, signed by {r.tree_head.key_id}; "
                  f"entry {r.entry.index} of the log of {r.tree_head.tree_size} entries with root "
                  f"{r.tree_head.root_hash.hex()}", highlight=False, markup=False)
        for name in sorted(r.files):
            out.print(f"  {name} ({len(r.files[name]):,} bytes)", highlight=False, markup=False)
    if not r.ok:
        if as_json:
            raise typer.Exit(EXIT_VERIFICATION_FAILED)
        _fail(r.problems)
    if extract is not None:
        for name, content in sorted(r.files.items()):
            if check_file_name(name) is None:
                target = extract / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        err.print(f"wrote {len(r.files)} files to {extract}", highlight=False, markup=False)
