"""RFC 6962 Merkle trees: known answers, the RFC's own recursion, and proof properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linewatch.audit import (
    EMPTY_ROOT,
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
from linewatch.audit import merkle as merkle

# The reference tree of Certificate Transparency's and Trillian's tests (transparency-dev/merkle,
# proof/verify_test.go): eight leaves, the head of every prefix, and some proofs.
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]  # ROOTS[n]: n leaves
INCLUSION = [  # (0-based leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
HASHES = [leaf_hash(x) for x in LEAVES]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


# -- RFC 6962 §2.1 written out literally, as the reference the fast code must equal -------------

def _k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d):
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m, d):
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


# -- known answers ------------------------------------------------------------------------------

def test_hashes_are_rfc6962():
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == ROOTS[0]
    assert leaf_hash(b"") == ROOTS[1] == hashlib.sha256(b"\x00").digest()
    assert node_hash(HASHES[0], HASHES[1]) == ROOTS[2] == hashlib.sha256(b"\x01" + HASHES[0] + HASHES[1]).digest()


@pytest.mark.parametrize("n", range(9))
def test_roots_of_the_reference_tree(n):
    assert root(HASHES[:n]) == ROOTS[n]
    assert MerkleTree(HASHES).root(n) == ROOTS[n]
    assert MerkleTree(HASHES[:n]).root() == ROOTS[n]
    assert ref_mth(HASHES[:n]) == ROOTS[n]


def test_prefix_roots_in_one_pass():
    assert prefix_roots(HASHES, range(9)) == dict(enumerate(ROOTS))
    assert prefix_roots(HASHES[:3], [2, 7]) == {2: ROOTS[2]}


@pytest.mark.parametrize("index,size,path", INCLUSION)
def test_inclusion_proofs_of_the_reference_tree(index, size, path):
    want = [bytes.fromhex(h) for h in path]
    assert MerkleTree(HASHES).inclusion_proof(index, size) == want
    assert inclusion_proof(HASHES[:size], index) == want
    assert verify_inclusion(HASHES[index], index, size, want, ROOTS[size])


@pytest.mark.parametrize("old,new,proof", CONSISTENCY)
def test_consistency_proofs_of_the_reference_tree(old, new, proof):
    want = [bytes.fromhex(h) for h in proof]
    assert MerkleTree(HASHES).consistency_proof(old, new) == want
    assert consistency_proof(HASHES[:new], old) == want
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], want)


@pytest.mark.parametrize("index,size,path", [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_proofs_fail(index, size, path):
    """The probes of transparency-dev/merkle's verifier tests."""
    proof = [bytes.fromhex(h) for h in path]
    good_root, leaf = ROOTS[size], HASHES[index]
    probes = [(index - 1, size, good_root, leaf, proof), (index + 1, size, good_root, leaf, proof),
              (index ^ 2, size, good_root, leaf, proof), (index, size * 2, good_root, leaf, proof),
              (index, size // 2, good_root, leaf, proof), (index, size, good_root, b"WrongLeaf", proof),
              (index, size, EMPTY_ROOT, leaf, proof), (index, size, SOME_HASH, leaf, proof),
              (index, size, good_root, leaf, proof + [b""]), (index, size, good_root, leaf, proof + [good_root]),
              (index, size, good_root, leaf, [b""] + proof), (index, size, good_root, leaf, [good_root] + proof),
              (index, size, good_root, leaf, proof[:-1])]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((index, size, good_root, leaf, bad))
    if len(proof) > 1:
        probes.append((index, size, good_root, leaf, [proof[0], SOME_HASH] + proof[1:]))
    for i, s, r, lf, p in probes:
        assert not verify_inclusion(lf, i, s, p, r), (i, s, r.hex(), lf.hex(), [h.hex() for h in p])


@pytest.mark.parametrize("old,new,proof", [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_fail(old, new, proof):
    p = [bytes.fromhex(h) for h in proof]
    r1, r2 = ROOTS[old], ROOTS[new]
    probes = [(old - 1, new, r1, r2, p), (old + 1, new, r1, r2, p), (old ^ 2, new, r1, r2, p),
              (old, new * 2, r1, r2, p), (old, new // 2, r1, r2, p), (old, new, b"WrongRoot", r2, p),
              (old, new, r1, b"WrongRoot", p), (old, new, r2, r1, p), (old, new, r1, r2, []),
              (old, new, r1, r2, p + [b""]), (old, new, r1, r2, p + [r1]), (old, new, r1, r2, p + [r2]),
              (old, new, r1, r2, [b""] + p), (old, new, r1, r2, [r1] + p), (old, new, r1, r2, [r2] + p),
              (old, new, r1, r2, [p[0]] + p), (old, new, r1, r2, p[:-1])]
    for i in range(len(p)):
        bad = list(p)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((old, new, r1, r2, bad))
    for s1, s2, a, b, pr in probes:
        assert not verify_consistency(s1, s2, a, b, pr), (s1, s2)


def test_trivial_and_impossible_consistency():
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert verify_consistency(3, 3, ROOTS[3], ROOTS[3], [])
    assert not verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])
    assert not verify_consistency(3, 3, ROOTS[3], ROOTS[3], [EMPTY_ROOT])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT])
    assert not verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])
    assert not verify_consistency(2, 1, ROOTS[2], ROOTS[1], [])  # time does not run backwards
    assert not verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])


def test_inclusion_outside_the_tree_fails():
    for index, size in ((0, 0), (1, 0), (1, 1), (2, 1), (-1, 3)):
        assert not verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)


def test_bad_arguments_are_refused():
    tree = MerkleTree(HASHES)
    with pytest.raises(ValueError, match="leaf index 8 is outside a tree of size 8"):
        tree.inclusion_proof(8)
    with pytest.raises(ValueError, match="tree size 9 is outside"):
        tree.root(9)
    with pytest.raises(ValueError, match="old tree size 6 is not between 0 and the new size 5"):
        tree.consistency_proof(6, 5)
    with pytest.raises(ValueError, match="leaf hash 1 is 3 bytes"):
        MerkleTree([HASHES[0], b"abc"])
    assert MerkleTree(b"".join(HASHES)).root() == ROOTS[8]
    assert tree.leaf(3) == HASHES[3]


def test_frontier_grows_one_leaf_at_a_time():
    f = MerkleFrontier()
    assert f.root() == EMPTY_ROOT
    for n, h in enumerate(HASHES, start=1):
        f.append(h)
        assert (f.size, f.root()) == (n, ROOTS[n])


def _directions(index, size, n_elements):
    """Which side each proof element is hashed on when verifying leaf ``index`` of ``size``, or
    ``None`` if a proof of ``n_elements`` cannot fit that tree (RFC 9162 §2.1.3.2, step by step)."""
    if not 0 <= index < size:
        return None
    fn, sn, sides = index, size - 1, []
    for _ in range(n_elements):
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            sides.append("left")
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sides.append("right")
        fn, sn = fn >> 1, sn >> 1
    return tuple(sides) if sn == 0 else None


# -- properties ---------------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(lambda xs: [leaf_hash(x) for x in xs])
# Distinct leaves: with two equal leaves, H(a || a) cannot tell which one a proof is about.
distinct_leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True).map(
    lambda xs: [leaf_hash(x) for x in xs])


@settings(max_examples=60, deadline=None)
@given(leaf_lists)
def test_tree_equals_the_rfc_recursion(leaves):
    tree = MerkleTree(leaves)
    for n in range(len(leaves) + 1):
        assert tree.root(n) == ref_mth(leaves[:n]) == root(leaves[:n])
    n = len(leaves)
    for m in range(n):
        assert tree.inclusion_proof(m) == ref_path(m, leaves)
    for m in range(1, n + 1):
        assert tree.consistency_proof(m) == ref_subproof(m, leaves, True)


@settings(max_examples=60, deadline=None)
@given(distinct_leaf_lists, st.data())
def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not(leaves, data):
    tree = MerkleTree(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    r = tree.root(size)
    for m in range(size):
        proof = tree.inclusion_proof(m, size)
        assert verify_inclusion(leaves[m], m, size, proof, r)
    m = data.draw(st.integers(0, size - 1), label="index")
    proof = tree.inclusion_proof(m, size)
    wrong_leaf = leaf_hash(b"not in the log")
    assert not verify_inclusion(wrong_leaf, m, size, proof, r)
    other = data.draw(st.integers(0, 2 * size).filter(lambda i: i != m), label="wrong index")
    assert not verify_inclusion(leaves[m], other, size, proof, r)
    # The size is bound to the root by the signed tree head, not by the proof: a proof holds for
    # another size exactly when that size puts the leaf on the same path (e.g. leaf 0 of 5 and of 6).
    wrong_size = data.draw(st.integers(1, 2 * size + 2).filter(lambda s: s != size), label="wrong size")
    same_path = _directions(m, wrong_size, len(proof)) == _directions(m, size, len(proof))
    assert verify_inclusion(leaves[m], m, wrong_size, proof, r) == same_path
    assert not verify_inclusion(leaves[m], m, size, proof, node_hash(r, r))
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="flipped element")
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not verify_inclusion(leaves[m], m, size, bad, r)


@settings(max_examples=60, deadline=None)
@given(leaf_lists, st.data())
def test_every_consistency_proof_verifies_and_a_wrong_one_does_not(leaves, data):
    tree = MerkleTree(leaves)
    n = data.draw(st.integers(1, len(leaves)), label="new size")
    for m in range(n + 1):
        proof = tree.consistency_proof(m, n)
        assert verify_consistency(m, n, tree.root(m), tree.root(n), proof)
    m = data.draw(st.integers(1, n), label="old size")
    proof = tree.consistency_proof(m, n)
    changed = list(leaves[:n])
    j = data.draw(st.integers(0, m - 1), label="changed leaf")
    changed[j] = leaf_hash(b"rewritten history")
    assert not verify_consistency(m, n, tree.root(m), MerkleTree(changed).root(), proof)
    assert not verify_consistency(m, n, MerkleTree(changed).root(m), tree.root(n), proof)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="flipped element")
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not verify_consistency(m, n, tree.root(m), tree.root(n), bad)


def test_large_tree_is_fast_enough():
    """10^5 leaves: the tree in well under a second, each proof in microseconds."""
    import time
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(100_000)]
    t0 = time.perf_counter()
    tree = MerkleTree(leaves)
    t1 = time.perf_counter()
    proofs = [tree.inclusion_proof(i) for i in range(0, 100_000, 997)]
    t2 = time.perf_counter()
    assert tree.root() == root(leaves)
    assert all(verify_inclusion(leaves[i], i, 100_000, p, tree.root())
               for i, p in zip(range(0, 100_000, 997), proofs))
    assert t1 - t0 < 3.0 and (t2 - t1) / len(proofs) < 0.005
    assert len(proofs[0]) == 17  # ceil(log2(100000))


def test_module_docstring_examples():
    import doctest
    assert doctest.testmod(merkle).failed == 0
