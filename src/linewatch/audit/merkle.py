"""RFC 6962 Merkle trees: tree heads, inclusion and consistency proofs, and their verification.

Pure functions over lists of leaf hashes (32-byte SHA-256 digests); no I/O, no clock.

Hashing is RFC 6962 §2.1 exactly:

- the hash of a leaf is ``SHA-256(0x00 || data)`` (:func:`leaf_hash`);
- the hash of an interior node is ``SHA-256(0x01 || left || right)`` (:func:`node_hash`);
- the Merkle tree hash (MTH) of the empty list is ``SHA-256("")`` (:data:`EMPTY_ROOT`), of one
  leaf its leaf hash, and of ``n > 1`` leaves the node hash of the MTH of the first ``k`` and
  of the remaining ``n - k``, where ``k`` is the largest power of two smaller than ``n``.

Proofs are the RFC's ``PATH(m, D[n])`` (inclusion) and ``PROOF(m, D[n])`` (consistency), and
:func:`verify_inclusion` and :func:`verify_consistency` are the algorithms of RFC 9162
§2.1.3.2 and §2.1.4.2, so proofs interoperate with Certificate Transparency tools.

Cost: :func:`root` and :class:`MerkleFrontier` take O(n) hashes in O(log n) memory;
:class:`MerkleTree` hashes every node once when built (O(n)), after which every tree head and
proof for any size up to ``n`` costs O(log n) hash look-ups (plus O(log n) hashes for the
right edge of a size that is not a power of two).

Examples
--------
>>> leaves = [leaf_hash(bytes([i])) for i in range(5)]
>>> tree = MerkleTree(leaves)
>>> proof = tree.inclusion_proof(3)
>>> verify_inclusion(leaves[3], 3, 5, proof, tree.root())
True
>>> verify_consistency(2, 5, tree.root(2), tree.root(), tree.consistency_proof(2))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "MerkleFrontier", "MerkleTree", "consistency_proof",
           "inclusion_proof", "leaf_hash", "node_hash", "prefix_roots", "root",
           "verify_consistency", "verify_inclusion"]


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry.

    >>> leaf_hash(b"").hex()  # the head of Certificate Transparency's one-leaf reference tree
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
    """
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node.

    >>> node_hash(leaf_hash(b"a"), leaf_hash(b"b")) == root([leaf_hash(b"a"), leaf_hash(b"b")])
    True
    """
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleFrontier:
    """The roots of the perfect subtrees that make up a growing tree: append-only, O(log n) memory.

    ``append`` costs one hash amortised; ``root()`` folds the O(log n) subtree roots.
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        height, h = 0, leaf
        stack = self._stack
        while stack and stack[-1][0] == height:
            h = node_hash(stack.pop()[1], h)
            height += 1
        stack.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        """The MTH of the leaves appended so far (:data:`EMPTY_ROOT` when there are none)."""
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """The Merkle tree hash of a list of leaf hashes, in O(n) hashes and O(log n) memory."""
    frontier = MerkleFrontier()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root()


def prefix_roots(leaf_hashes: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The MTH of the first ``s`` leaves for every ``s`` in ``sizes``, in one pass.

    Sizes larger than the number of leaves are left out of the answer.
    """
    wanted = set(sizes)
    frontier = MerkleFrontier()
    out = {0: EMPTY_ROOT} if 0 in wanted else {}
    for h in leaf_hashes:
        frontier.append(h)
        if frontier.size in wanted:
            out[frontier.size] = frontier.root()
    return out


class MerkleTree:
    """Every perfect subtree's hash of a fixed list of leaf hashes, for O(log n) heads and proofs.

    Level ``k`` holds the hashes of the complete, aligned subtrees of ``2**k`` leaves, packed
    into one ``bytes`` object (32 bytes each), so a million leaves take about 64 MB.
    """

    def __init__(self, leaf_hashes: Sequence[bytes] | bytes) -> None:
        if not isinstance(leaf_hashes, bytes):
            bad = next((i for i, h in enumerate(leaf_hashes) if len(h) != HASH_SIZE), None)
            if bad is not None:
                raise ValueError(f"leaf hash {bad} is {len(leaf_hashes[bad])} bytes, not {HASH_SIZE}")
        packed = leaf_hashes if isinstance(leaf_hashes, bytes) else b"".join(leaf_hashes)
        if len(packed) % HASH_SIZE:
            raise ValueError(f"packed leaf hashes: {len(packed)} bytes is not a multiple of {HASH_SIZE}")
        self.size = len(packed) // HASH_SIZE
        self._levels: list[bytes] = [packed]
        level = packed
        sha = hashlib.sha256
        while len(level) >= 2 * HASH_SIZE:
            nxt = bytearray()
            for i in range(0, len(level) - HASH_SIZE, 2 * HASH_SIZE):
                nxt += sha(b"\x01" + level[i:i + 2 * HASH_SIZE]).digest()
            level = bytes(nxt)
            self._levels.append(level)

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        self._check_size(index + 1, "leaf index + 1")
        return self._levels[0][index * HASH_SIZE:(index + 1) * HASH_SIZE]

    def _node(self, height: int, j: int) -> bytes:
        return self._levels[height][j * HASH_SIZE:(j + 1) * HASH_SIZE]

    def _check_size(self, size: int, name: str) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"{name} {size} is outside the tree of {self.size} leaves")

    def _mth(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``; ``start`` is a multiple of the largest power of two
        not above ``end - start``, which holds for every range that RFC 6962's recursion visits."""
        if end == start:
            return EMPTY_ROOT
        pieces = []
        while start < end:
            height = (end - start).bit_length() - 1
            pieces.append(self._node(height, start >> height))
            start += 1 << height
        h = pieces[-1]
        for left in reversed(pieces[:-1]):
            h = node_hash(left, h)
        return h

    def root(self, size: int | None = None) -> bytes:
        """The tree head of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        return self._mth(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 ``PATH(index, D[size])``: the audit path of one leaf, nearest sibling first."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        path: list[bytes] = []
        start, end, m = 0, size, index
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                path.append(self._mth(start + k, end))
                end = start + k
            else:
                path.append(self._mth(start, start + k))
                start, m = start + k, m - k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 ``PROOF(old_size, D[size])``; empty when ``old_size`` is 0 or ``size``."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        if not 0 <= old_size <= size:
            raise ValueError(f"old tree size {old_size} is not between 0 and the new size {size}")
        if old_size in (0, size):
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, size, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._mth(start + k, end))
                end = start + k
            else:
                proof.append(self._mth(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self._mth(start, end))
        proof.reverse()
        return proof


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """``PATH(index, D[size])`` over a list of leaf hashes (builds a :class:`MerkleTree`)."""
    return MerkleTree(leaf_hashes).inclusion_proof(index, size)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int,
                      size: int | None = None) -> list[bytes]:
    """``PROOF(old_size, D[size])`` over a list of leaf hashes (builds a :class:`MerkleTree`)."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size, size)


def _well_formed(hashes: Iterable[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show that ``leaf`` is entry ``index`` of the tree
    of ``size`` leaves whose head is ``root_hash``?"""
    if not 0 <= index < size or not _well_formed([leaf, root_hash, *proof]):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(old_size: int, size: int, old_root: bytes, root_hash: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show that the tree of ``old_size`` leaves with head
    ``old_root`` is a prefix of the tree of ``size`` leaves with head ``root_hash``?

    Equal sizes need an empty proof and equal heads; an old size of 0 needs an empty proof and
    the empty tree's head as ``old_root``.
    """
    if not 0 <= old_size <= size or not _well_formed([old_root, root_hash, *proof]):
        return False
    if old_size == size:
        return not proof and old_root == root_hash
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old head is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == root_hash and sn == 0
