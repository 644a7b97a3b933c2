"""The tamper-evident record as values: the Merkle tree, entries, proofs, bundles, and their checks.

Core: pure computation (hashing, Ed25519 signatures with ``cryptography``); it reads no file,
no clock and no store, and imports nothing of linewatch but ``errors`` and ``model`` (its one
time format). The modules, in the order a record meets them:

- :mod:`~linewatch.audit.merkle`: RFC 6962 trees, tree heads and proofs over leaf hashes;
- :mod:`~linewatch.audit.fields`: reading the JSON others hand us; every error names its field;
- :mod:`~linewatch.audit.entries`: :class:`AuditEntry`, :class:`TreeHead`, :data:`ENTRY_TYPES`,
  canonical JSON and signatures;
- :mod:`~linewatch.audit.proofs`: inclusion and consistency proofs and their checks;
- :mod:`~linewatch.audit.log_check`: checking a whole log as the store streams it past;
- :mod:`~linewatch.audit.bundles`: report bundles, and checking one with the public key alone.

The log's tables are ``linewatch.store.audit_tables``; the log as a service (append, sign,
prove, verify; key files) is ``linewatch.services.audit``. Formats: docs/audit.md.
"""

from __future__ import annotations

from linewatch.audit.bundles import BundleResult, check_file_name, pack_bundle, report_manifest, verify_bundle
from linewatch.audit.entries import (
    ENTRY_TYPES,
    SIGNED_TYPES,
    AuditEntry,
    Payload,
    TreeHead,
    canonical_json,
    check_entry_type,
    key_id,
    payload_bytes,
    sha256_hex,
    verify_signature,
)
from linewatch.audit.log_check import MAX_PROBLEMS, LogScan, StoredEntry, claimed_head_size
from linewatch.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleFrontier,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    prefix_roots,
    root,
    verify_consistency,
    verify_inclusion,
)
from linewatch.audit.proofs import (
    CheckResult,
    ConsistencyProof,
    InclusionProof,
    Problem,
    VerifyResult,
    check_consistency,
    check_inclusion,
    read_proof,
)

__all__ = [
    "EMPTY_ROOT",
    "ENTRY_TYPES",
    "HASH_SIZE",
    "MAX_PROBLEMS",
    "SIGNED_TYPES",
    "AuditEntry",
    "BundleResult",
    "CheckResult",
    "ConsistencyProof",
    "InclusionProof",
    "LogScan",
    "MerkleFrontier",
    "MerkleTree",
    "Payload",
    "Problem",
    "StoredEntry",
    "TreeHead",
    "VerifyResult",
    "canonical_json",
    "check_consistency",
    "check_entry_type",
    "check_file_name",
    "check_inclusion",
    "claimed_head_size",
    "consistency_proof",
    "inclusion_proof",
    "key_id",
    "leaf_hash",
    "node_hash",
    "pack_bundle",
    "payload_bytes",
    "prefix_roots",
    "read_proof",
    "report_manifest",
    "root",
    "sha256_hex",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_signature",
]
