"""RFC 9162 Merkle tree hashing and proofs (Certificate Transparency 2.0, section 2.1), pure functions.

Leaves and nodes are domain-separated: ``leaf_hash(d) = SHA-256(0x00 || d)`` and ``node_hash(l, r) =
SHA-256(0x01 || l || r)`` (RFC 9162 2.1.1), so no leaf can pass for a node. ``root``, ``inclusion_proof``
and ``consistency_proof`` follow the recursive definitions MTH, PATH and PROOF/SUBPROOF (2.1.1, 2.1.3.1,
2.1.4.1) over a list of leaf hashes; the log's storage computes the same from its stored subtree hashes.

Verification mirrors transparency-dev/merkle's ``proof`` package (the source of the conformance vectors
in ``shared/conformance/merkle``), which is RFC 9162 2.1.3.2 and 2.1.4.2 with the proof length checked up
front: a proof one hash too long or too short is refused even when the extra hash would not change the
result. Every failure raises ``ProofError`` saying what was expected and what was found.

Written here rather than taken from a library: sigstore-python's verifier is private API, and pymerkle
keeps its own tree and proof format; this module is ~150 lines and is tested against all 196 vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256() (RFC 9162 2.1.1)


class ProofError(ValueError):
    """A proof that does not prove what it claims; the message says expected vs actual."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where MTH splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the given leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf ``index`` in the tree of ``leaves``."""
    if not 0 <= index < len(leaves):
        raise ProofError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root(leaves[:k])]


def consistency_proof(size1: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m <= n: that the tree of the first ``size1`` leaves is a prefix of the tree of
    ``leaves`` (nothing is proven from an empty tree: every tree extends it)."""
    if not 1 <= size1 <= len(leaves):
        raise ProofError(f"size1 {size1} is outside 1..{len(leaves)}")
    if size1 == len(leaves):
        return []
    return _subproof(size1, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def _check_size(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, expected {HASH_SIZE}")


def _inner_size(index: int, size: int) -> int:
    return (index ^ (size - 1)).bit_length()


def _decompose(index: int, size: int) -> tuple[int, int]:
    """How many proof hashes are inner (below the split) and how many border the right edge."""
    inner = _inner_size(index, size)
    return inner, bin(index >> inner).count("1")


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _match(name: str, calculated: bytes, expected: bytes) -> None:
    if calculated != expected:
        raise ProofError(f"calculated {name} {calculated.hex()} does not match the expected {expected.hex()}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a leaf hash and its audit path give (RFC 9162 2.1.3.2)."""
    if index < 0 or size < 0 or index >= size:
        raise ProofError(f"leaf index {index} is beyond the tree size {size}")
    _check_size("the leaf hash", leaf)
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"the inclusion proof has {len(proof)} hashes, expected {inner + border}")
    return _chain_border_right(_chain_inner(leaf, proof[:inner], index), proof[inner:])


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], tree_root: bytes) -> None:
    """Raise ``ProofError`` unless ``proof`` shows leaf ``index`` (hash ``leaf``) in the tree ``tree_root``."""
    _match("root", root_from_inclusion_proof(index, size, leaf, proof), tree_root)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise ``ProofError`` unless ``proof`` shows the tree (size1, root1) a prefix of (size2, root2)."""
    if size1 < 1:
        raise ProofError(f"consistency is proven from a tree of at least one leaf, not size1 {size1}")
    if size2 < size1:
        raise ProofError(f"size2 {size2} is smaller than size1 {size1}")
    if size1 == size2:
        if proof:
            raise ProofError(f"equal sizes need an empty proof, got {len(proof)} hashes")
        _match("root", root1, root2)
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    inner -= shift
    seed, start = (root1, 0) if size1 == 1 << shift else (proof[0], 1)
    if len(proof) != start + inner + border:
        raise ProofError(f"the consistency proof has {len(proof)} hashes, expected {start + inner + border}")
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    first = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    _match("first root", first, root1)
    second = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    _match("second root", second, root2)


# -- proofs from stored subtree hashes ----------------------------------------------------------------
#
# A log stores the hash of every complete (perfect) subtree: node (level, i) covers leaves
# [i * 2**level, (i + 1) * 2**level). Any range that MTH's recursion produces is a run of such subtrees,
# largest first, so a root or a proof needs O(log n) stored hashes, which ``ranges`` and ``pieces`` name.

Node = tuple[int, int]  # (level, index at that level)
Range = tuple[int, int]  # leaves [start, end)


def pieces(start: int, end: int) -> list[Node]:
    """The perfect subtrees, largest first, whose fold is MTH of leaves [start, end) (an MTH range)."""
    found = []
    while start < end:
        level = (end - start).bit_length() - 1
        found.append((level, start >> level))
        start += 1 << level
    return found


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its pieces' hashes: H(p1, H(p2, ... H(pk-1, pk)))."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def pieces_of(ranges: Iterable[Range]) -> set[Node]:
    """Every stored subtree the MTHs of these ranges are made of (what to read, once, for all of them)."""
    return {node for start, end in ranges for node in pieces(start, end)}


def range_hashes(nodes: Mapping[Node, bytes], ranges: Iterable[Range]) -> list[bytes]:
    """Each range's MTH from the stored subtree hashes read for ``pieces_of(ranges)``."""
    return [fold([nodes[node] for node in pieces(start, end)]) for start, end in ranges]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose MTHs are PATH(index, D[size]), in proof order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    found: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start += k
    return found[::-1]


def consistency_ranges(size1: int, size2: int) -> list[Range]:
    """The leaf ranges whose MTHs are PROOF(size1, D[size2]), in proof order (0 < size1 <= size2)."""
    if not 1 <= size1 <= size2:
        raise ProofError(f"size1 {size1} is outside 1..{size2}")
    found: list[Range] = []
    start, end, m, complete = 0, size2, size1, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        found.append((start, end))
    return found[::-1]
