"""``civicpass audit verify`` on both databases: a log as written verifies, offline (export) and live
(HTTP); editing, deleting or reordering a stored leaf, or editing a stored subtree hash or tile, is caught
and the first bad index is named."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from civicpass.adapters.crypto.notes import Ed25519NoteKeys
from civicpass.adapters.log_files import HttpSource
from civicpass.bootstrap import Container, build
from civicpass.cli import app
from civicpass.services import audit
from civicpass.services import transparency as tl
from civicpass.settings import Settings
from civicpass.web.app import create_app

EVENTS = 40


@pytest.fixture
def logged(cli_env: Settings) -> Iterator[Container]:
    """A migrated database whose log holds the migration's events and 40 more, in several checkpoints."""
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    container = build(cli_env)
    with container.deps.uow() as uow:
        for n in range(EVENTS):
            uow.events.add("test:thing:done", {"n": n}, datetime(2022, 5, 3, 8, n, tzinfo=UTC))
        uow.commit()
    while tl.publish(container.deps, limit=9):  # a checkpoint every 9 leaves
        pass
    yield container
    container.dispose()


def _verify(path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--log", str(path), *extra])
    return result.exit_code, result.output


def _export(tmp: Path, name: str) -> Path:
    out = tmp / name
    result = CliRunner().invoke(app, ["audit", "export", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _tamper(container: Container, *statements: str) -> None:
    with container.engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def _bad_index(output: str) -> int:
    found = re.search(r"first bad index (\d+)", output)
    assert found, output
    return int(found.group(1))


def test_an_untouched_log_verifies_offline_and_live(logged: Container, tmp_path: Path) -> None:
    size = tl.head(logged.deps).size
    assert size >= EVENTS
    out = _export(tmp_path, "clean")
    for extra in ((), ("--leaves",)):
        code, output = _verify(out, *extra)
        assert code == 0, output
        assert f"size {size}" in output
    with TestClient(create_app(container=logged)) as client:
        source = HttpSource(client)
        notes = logged.deps.notes
        assert notes is not None
        for leaves in (False, True):
            report = audit.verify(
                source, notes.note_key, Ed25519NoteKeys(bytes(32), "-", "-"), with_leaves=leaves
            )
            assert report.ok, report.failure
            assert report.checkpoints >= 5
    assert CliRunner().invoke(app, ["audit", "tail", "-n", "3"]).output.count("test:thing:done") == 3


@pytest.mark.parametrize(
    ("tampering", "statements", "bad"),
    [
        (
            "edit a leaf",
            ["UPDATE log_leaves SET data = replace(data, '\"n\"\\:7', '\"n\"\\:9') WHERE idx = {k}"],
            "k",
        ),
        ("delete a leaf", ["DELETE FROM log_leaves WHERE idx = {k}"], "k"),
        (
            "swap two leaves",
            [
                "UPDATE log_leaves SET idx = -1 WHERE idx = {k}",
                "UPDATE log_leaves SET idx = {k} WHERE idx = {k} + 1",
                "UPDATE log_leaves SET idx = {k} + 1 WHERE idx = -1",
            ],
            "k",
        ),
        (
            "edit a subtree hash",
            [
                "UPDATE log_nodes SET hash = (SELECT hash FROM log_nodes WHERE level = 0 AND idx = 0) WHERE level = 2 AND idx = 3"
            ],
            "12",
        ),
        (
            "edit a tile",  # leaves 0-15's tile given leaves 16-31's hashes
            ["UPDATE log_tiles SET hashes = (SELECT hashes FROM log_tiles WHERE idx = 1) WHERE idx = 0"],
            "0",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v and not v.startswith(("UPDATE", "DELETE")) else "",
)
def test_tampering_with_the_stored_log_is_caught_with_the_first_bad_index(
    logged: Container, tmp_path: Path, tampering: str, statements: list[str], bad: str
) -> None:
    with logged.deps.uow() as uow:
        k = next(i for i, leaf in enumerate(uow.log.leaves(0, 1000)) if '"n":7' in leaf.data)
    _tamper(logged, *(s.format(k=k) for s in statements))
    code, output = _verify(_export(tmp_path, "tampered"), "--leaves")
    assert code == 1, output
    assert "FAIL" in output
    assert _bad_index(output) == (k if bad == "k" else int(bad)), output


def test_a_leaf_rewritten_with_a_matching_hash_breaks_the_signed_roots(
    logged: Container, tmp_path: Path
) -> None:
    """An attacker who rewrites a leaf and its hash cannot re-sign the checkpoints: the roots disagree."""
    with logged.deps.uow() as uow:
        leaves = uow.log.leaves(0, 1000)
    k = next(i for i, leaf in enumerate(leaves) if '"n":20' in leaf.data)
    forged = leaves[k].data.replace('"n":20', '"n":21')
    from civicpass.domain import merkle

    with logged.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE log_leaves SET data = :data, leaf_hash = :hash WHERE idx = :k"),
            {"data": forged, "hash": merkle.leaf_hash(forged.encode()), "k": k},
        )
    code, output = _verify(_export(tmp_path, "forged"), "--leaves")
    assert code == 1, output
    assert "do not give checkpoint" in output
    assert _bad_index(output) <= k  # the last checkpoint that still verified comes before the forgery


def test_a_live_log_whose_subtree_hash_was_edited_serves_proofs_that_fail(logged: Container) -> None:
    _tamper(
        logged,
        "UPDATE log_nodes SET hash = (SELECT hash FROM log_nodes WHERE level = 0 AND idx = 0) WHERE level = 1 AND idx = 5",
    )
    notes = logged.deps.notes
    assert notes is not None
    with TestClient(create_app(container=logged)) as client:
        report = audit.verify(
            HttpSource(client), notes.note_key, Ed25519NoteKeys(bytes(32), "-", "-"), with_leaves=False
        )
    assert not report.ok
    assert "does not extend" in (report.failure or "")
