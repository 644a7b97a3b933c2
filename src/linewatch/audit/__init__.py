"""The tamper-evident record as values: the Merkle tree (RFC 6962).

Core: imports nothing of linewatch but ``errors``. The log's tables are ``linewatch.store``; the
log as a service (append, sign, verify) is ``linewatch.services.audit``.
"""

from __future__ import annotations

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

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleFrontier",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "prefix_roots",
    "root",
    "verify_consistency",
    "verify_inclusion",
]
