"""Report bundles: one self-contained, signed file that anyone can check with the public key alone.

A bundle (canonical JSON, every byte counts) holds the report's files (base64), their signed
manifest, the report's signed ``report`` entry of the log, its inclusion proof and the signed
tree head it leads to. :func:`report_manifest` and :func:`pack_bundle` build one from values
(the log's part is ``linewatch.services.audit.make_bundle``); :func:`verify_bundle` checks one
and names every file or field that does not match. Format: docs/audit.md.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linewatch.audit import merkle
from linewatch.audit.entries import AuditEntry, TreeHead, canonical_json, key_id, sha256_hex, verify_signature
from linewatch.audit.fields import b64_bytes, check_format, get_field, hex_bytes
from linewatch.audit.proofs import Problem
from linewatch.errors import InputError
from linewatch.model import utc_iso

BUNDLE_FORMAT = "linewatch.report-bundle"
MANIFEST_FORMAT = "linewatch.report-manifest"

__all__ = ["BundleResult", "check_file_name", "pack_bundle", "report_manifest", "verify_bundle"]


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


def check_file_name(name: Any) -> str | None:
    """Why a file name is not a safe relative POSIX path, or ``None``.

    >>> check_file_name("map/day.png") is None
    True
    >>> check_file_name("../etc/passwd")
    "has an empty, '.' or '..' part"
    """
    if not isinstance(name, str) or not name:
        return "not a non-empty string"
    if name.startswith("/") or "\\" in name or "\x00" in name:
        return "must be a relative POSIX path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "has an empty, '.' or '..' part"
    return None


def report_manifest(report_files: Mapping[str, bytes], *, report_id: str, created_at: datetime,
                    signer_key_id: str) -> dict[str, Any]:
    """The manifest of a report: each file's SHA-256 and size (the payload of its log entry).

    :class:`ValueError` if a file name is not a safe relative path.
    """
    for name in report_files:
        if (why := check_file_name(name)) is not None:
            raise ValueError(f"report file name {name!r}: {why}")
    return {"format": MANIFEST_FORMAT, "version": 1, "report_id": report_id,
            "created_at": utc_iso(created_at, timespec="microseconds"), "key_id": signer_key_id,
            "files": {n: {"sha256": sha256_hex(b), "size": len(b)} for n, b in sorted(report_files.items())}}


def pack_bundle(report_files: Mapping[str, bytes], manifest: Mapping[str, Any], manifest_signature: bytes,
                entry: AuditEntry, audit_path: Sequence[bytes], head: TreeHead) -> bytes:
    """The bundle's bytes (canonical JSON) from its parts."""
    bundle = {"format": BUNDLE_FORMAT, "version": 1,
              "files": {n: base64.b64encode(b).decode("ascii") for n, b in report_files.items()},
              "manifest": manifest, "manifest_signature": manifest_signature.hex(),
              "audit_entry": entry.to_dict(),
              "inclusion_proof": {"leaf_index": entry.index, "tree_size": head.tree_size,
                                  "audit_path": [h.hex() for h in audit_path]},
              "tree_head": head.to_dict()}
    return canonical_json(bundle)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError(f"duplicate keys {sorted(k for k in d if sum(p[0] == k for p in pairs) > 1)}")
    return d


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


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
        check_format(bundle, BUNDLE_FORMAT, "bundle")
    except InputError as exc:
        return None, problems + [Problem("bundle", str(exc))]
    return bundle, problems


def _bundle_files(bundle: Any, manifest: Any, problems: list[Problem]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    listed = get_field(manifest, "files", dict, "manifest")
    packed = get_field(bundle, "files", dict, "bundle")
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
                content = b64_bytes(get_field(packed, name, str, "files"), "content")
                want_sha = get_field(listed[name], "sha256", str, f"manifest.files[{name!r}]")
                want_size = get_field(listed[name], "size", int, f"manifest.files[{name!r}]")
            except InputError as exc:
                problems.append(Problem(where, str(exc)))
                continue
            if sha256_hex(content) != want_sha or len(content) != want_size:
                problems.append(Problem(where, f"content ({len(content)} bytes, SHA-256 {sha256_hex(content)}) "
                                        f"does not match the manifest ({want_size} bytes, SHA-256 {want_sha})"))
            files[name] = content
    return files


def _check_manifest(bundle: Any, public_key: Ed25519PublicKey,
                    problems: list[Problem]) -> tuple[str | None, dict[str, bytes] | None]:
    """The manifest's report id and the bundle's files; problems with the manifest or the files."""
    kid = key_id(public_key)
    report_id = files = None
    try:
        manifest = get_field(bundle, "manifest", dict, "bundle")
        check_format(manifest, MANIFEST_FORMAT, "manifest")
        report_id = get_field(manifest, "report_id", str, "manifest")
        if get_field(manifest, "key_id", str, "manifest") != kid:
            problems.append(Problem("manifest.key_id", f"signed with key {manifest['key_id']}, the given "
                                    f"public key is {kid}"))
        sig = hex_bytes(get_field(bundle, "manifest_signature", str, "bundle"), "manifest_signature", 64)
        if not verify_signature(public_key, sig, canonical_json(manifest)):
            problems.append(Problem("manifest_signature", "does not match the manifest and the public key"))
        files = _bundle_files(bundle, manifest, problems)
    except InputError as exc:
        problems.append(Problem("manifest", str(exc)))
    return report_id, files


def _check_entry(bundle: Any, entry: AuditEntry, head: TreeHead, report_id: str | None,
                 public_key: Ed25519PublicKey, problems: list[Problem]) -> None:
    """The report's entry, its signature and the tree head's, and the path between them."""
    ip = get_field(bundle, "inclusion_proof", dict, "bundle")
    if entry.entry_type != "report" or entry.subject_id != report_id:
        problems.append(Problem("audit_entry", f"a {entry.entry_type} entry about {entry.subject_id!r}, "
                                f"not the report {report_id!r}"))
    if "manifest" in bundle and entry.payload_sha256 != sha256_hex(canonical_json(bundle["manifest"])):
        problems.append(Problem("audit_entry.payload_sha256", "is not the SHA-256 of the manifest"))
    for name, why in (("audit_entry", entry.check_signature(public_key)),
                      ("tree_head", head.check_signature(public_key))):
        if why is not None:
            problems.append(Problem(f"{name}.signature", why))
    path = tuple(hex_bytes(h, f"inclusion_proof.audit_path[{i}]", 32)
                 for i, h in enumerate(get_field(ip, "audit_path", list, "inclusion_proof")))
    if get_field(ip, "leaf_index", int, "inclusion_proof") != entry.index \
            or get_field(ip, "tree_size", int, "inclusion_proof") != head.tree_size:
        problems.append(Problem("inclusion_proof", f"leaf {ip['leaf_index']} of {ip['tree_size']} entries; "
                                f"the entry is {entry.index}, the tree head has {head.tree_size}"))
    elif not merkle.verify_inclusion(entry.leaf_hash, entry.index, head.tree_size, path, head.root_hash):
        problems.append(Problem("inclusion_proof", "the audit path does not lead from the report's entry "
                                "to the tree head's root"))


def verify_bundle(data: bytes, public_key: Ed25519PublicKey) -> BundleResult:
    """Check a report bundle with nothing but the public key; every problem names its file or field."""
    bundle, problems = _parse_bundle(data)
    if bundle is None:
        return BundleResult(False, None, problems=tuple(problems))
    report_id, files = _check_manifest(bundle, public_key, problems)
    head = entry = None
    try:
        entry = AuditEntry.from_dict(get_field(bundle, "audit_entry", dict, "bundle"), "audit_entry")
        head = TreeHead.from_dict(get_field(bundle, "tree_head", dict, "bundle"), "tree_head")
        _check_entry(bundle, entry, head, report_id, public_key, problems)
    except InputError as exc:
        problems.append(Problem("audit", str(exc)))
    return BundleResult(not problems, report_id, files or {}, head, entry, tuple(problems))
