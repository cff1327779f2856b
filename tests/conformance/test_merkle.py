"""RFC 9162 Merkle proofs (domain/merkle.py) against transparency-dev/merkle's test vectors, read in place
from ``shared/conformance/merkle``: every inclusion and consistency vector, those a verifier must reject
(``wantErr``) included; and the proofs we generate verify, for every tree up to 64 leaves."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicpass.domain import merkle
from tests.conformance.suites import CONFORMANCE, require

MERKLE = CONFORMANCE / "merkle"
require(MERKLE)
INCLUSION = sorted((MERKLE / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((MERKLE / "consistency").rglob("*.json"))
VECTORS = 98  # each kind, as shared/conformance/README.md states


def _load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text())
    return vector


def _b(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_b(p) for p in vector.get("proof") or []]


def _id(path: Path) -> str:
    return str(path.relative_to(MERKLE))


def test_the_suite_has_the_stated_number_of_vectors() -> None:
    assert (len(INCLUSION), len(CONSISTENCY)) == (VECTORS, VECTORS)


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    args = (v["leafIdx"], v["treeSize"], _b(v["leafHash"]), _proof(v), _b(v["root"]))
    if v.get("wantErr"):
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    args = (v["size1"], v["size2"], _proof(v), _b(v["root1"]), _b(v["root2"]))
    if v.get("wantErr"):
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def test_rfc_9162_hashes_are_domain_separated_and_the_empty_root_is_sha256_of_nothing() -> None:
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    left, right = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.root([left, right]) == merkle.node_hash(left, right) != merkle.leaf_hash(left + right)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=64).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_generated_inclusion_proofs_verify_and_fail_for_any_other_leaf(case: tuple[int, int]) -> None:
    n, index = case
    leaves = _leaves(n)
    tree = merkle.root(leaves)
    proof = merkle.inclusion_proof(index, leaves)
    merkle.verify_inclusion(index, n, leaves[index], proof, tree)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(index, n, merkle.leaf_hash(b"forged"), proof, tree)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=64).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_generated_consistency_proofs_verify_and_catch_a_rewritten_history(case: tuple[int, int]) -> None:
    size1, size2 = case
    leaves = _leaves(size2)
    proof = merkle.consistency_proof(size1, leaves)
    root1, root2 = merkle.root(leaves[:size1]), merkle.root(leaves)
    merkle.verify_consistency(size1, size2, proof, root1, root2)
    if size1 < size2:
        forked = merkle.root([merkle.leaf_hash(b"rewritten"), *leaves[1:size1]])
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(size1, size2, proof, forked, root2)


def _from_pieces(leaves: list[bytes], ranges: list[tuple[int, int]]) -> list[bytes]:
    """Each range's MTH computed the way the log does: fold the stored perfect subtrees."""
    return [
        merkle.fold([merkle.root(leaves[i << level : (i + 1) << level]) for level, i in merkle.pieces(a, b)])
        for a, b in ranges
    ]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=70).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_proofs_from_stored_subtrees_equal_the_rfc_definitions(case: tuple[int, int]) -> None:
    index, size = case
    leaves = _leaves(size)
    assert merkle.fold(
        [merkle.root(leaves[i << lv : (i + 1) << lv]) for lv, i in merkle.pieces(0, size)]
    ) == (merkle.root(leaves))
    assert _from_pieces(leaves, merkle.inclusion_ranges(index, size)) == merkle.inclusion_proof(index, leaves)
    size1 = index + 1
    assert _from_pieces(leaves, merkle.consistency_ranges(size1, size)) == merkle.consistency_proof(
        size1, leaves
    )
