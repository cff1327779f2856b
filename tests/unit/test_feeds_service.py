"""Signed feed batches (domain/feeds.py, services/feeds.py) over fakes: keep the good, report and quarantine
the bad, never apply twice, refuse what is not signed by a registered source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from civicpass.adapters.crypto import b64url
from civicpass.adapters.feed_parser import ArrowFeedParser
from civicpass.adapters.files import bundled_ruleset
from civicpass.domain import feeds as fd
from civicpass.domain.cases import CaseState
from civicpass.domain.errors import Conflict, InvalidInput, NotAuthenticated, PermissionDenied
from civicpass.domain.facts import FactKind, FactSource
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.policy import StaffActor
from civicpass.domain.staff import Role
from civicpass.services import feeds, risk_areas, rulesets
from civicpass.services import status as status_service
from civicpass.services.context import Deps
from civicpass.services.ports import FeedFacts, FeedParser, RiskArea
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident
from tests.support import resident_id_number

ADMIN = StaffActor("admin-1", Role.ADMIN, "440100")
NUMBERS = [resident_id_number(serial=f"{n:03d}") for n in range(1, 4)]


@dataclass
class Lab:
    deps: Deps
    store: FakeStore
    clock: FakeClock
    key: Ed25519PrivateKey
    source: fd.FeedSource

    def send(
        self, lines: list[Any], batch_id: str = "b-1", media_type: str = "application/jsonl"
    ) -> dict[str, Any]:
        body = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()
        return self.send_bytes(body, batch_id, media_type)

    def send_bytes(self, body: bytes, batch_id: str, media_type: str = "application/jsonl") -> dict[str, Any]:
        signature = b64url.encode(
            self.key.sign(fd.signing_input(self.source.id, batch_id, fd.FORMATS[media_type], body))
        )
        return feeds.import_batch(self.deps, self.source.id, batch_id, body, media_type, signature)

    def facts(self, kind: FactKind) -> list[Any]:
        return [f for f in self.store.facts.values() if f.kind is kind]


def _public(key: Ed25519PrivateKey) -> str:
    return b64url.encode(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


PARSERS: dict[str, FeedParser | None] = {"reference": None, "arrow": ArrowFeedParser(block_lines=2)}
"""Every test runs with the reference parser and with the Arrow parser the server uses (in blocks of two
lines, so that a bad line sends its block, not the batch, to the reference)."""


@pytest.fixture(autouse=True, params=sorted(PARSERS))
def parser(request: pytest.FixtureRequest) -> Iterator[None]:
    global _PARSER
    _PARSER = PARSERS[request.param]
    yield
    _PARSER = None


_PARSER: FeedParser | None = None


def _lab(kind: str = "hospital") -> Lab:
    deps, store, _, clock = fake_deps()
    deps = replace(deps, feed_parser=_PARSER)
    rulesets.install_bundled(deps, bundled_ruleset())
    for n, number in enumerate(NUMBERS):
        resident = make_resident(f"r-{n}", document=Document(DocumentType.RESIDENT_ID, number, "CHN"))
        store.residents[resident.id] = resident
    status_service.recompute(deps, list(store.residents))
    key = Ed25519PrivateKey.generate()
    source = feeds.register_source(
        deps, ADMIN, feeds.NewSource("Guangzhou lab 1", kind, _public(key), "440100")
    )
    return Lab(deps, store, clock, key, source)


def _result(record_id: str, number: str, result: str = "negative", **extra: Any) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "kind": "test_result",
        "document": {"type": "resident_id", "number": number},
        "test": "pcr",
        "result": result,
        "sampled_at": "2022-05-02T09:00:00+08:00",
        **extra,
    }


def _vaccination(record_id: str, number: str) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "kind": "vaccination",
        "document": {"type": "resident_id", "number": number},
        "vaccine": "CoronaVac",
        "dose": 3,
        "administered_at": "2022-03-01T10:00:00+08:00",
    }


def test_a_batch_keeps_the_good_records_and_reports_and_quarantines_each_bad_one() -> None:
    lab = _lab()
    report = lab.send(
        [
            _result("r1", NUMBERS[0]),
            _result("r2", NUMBERS[1], result="maybe"),
            "{not json",
            "[1, 2]",
            _result("r3", resident_id_number(serial="999")),  # a valid number nobody enrolled with
            _result("r4", NUMBERS[2], test="smell", sampled_at="yesterday"),
            {"record_id": "r5", "kind": "travel", "document": {"type": "resident_id", "number": NUMBERS[2]}},
            _result("r1", NUMBERS[2]),  # the same record id twice in one batch
            _vaccination("v1", NUMBERS[2]),
        ]
    )
    assert (report["received"], report["accepted"], report["rejected"], report["facts"]) == (9, 2, 7, 2)
    reasons = {r["line"]: {(e["path"], e["reason"]) for e in r["errors"]} for r in report["rejections"]}
    assert reasons[2] == {("result", "invalid")}
    assert reasons[3] == {("", "malformed_json")}
    assert reasons[4] == {("", "not_an_object")}
    assert reasons[5] == {("record_id", "resident_unknown")}
    assert reasons[6] == {("test", "invalid"), ("sampled_at", "invalid")}
    assert reasons[7] == {("kind", "kind_not_accepted")}  # a hospital sends no travel records
    assert reasons[8] == {("record_id", "duplicate_in_batch")}
    assert [r.line for _, _, r in lab.store.feed_quarantine] == [2, 3, 4, 5, 6, 7, 8]
    assert lab.store.feed_quarantine[1][2].raw == "{not json"
    (result,) = lab.facts(FactKind.TEST_RESULT)
    assert (result.subject_id, result.source, result.authority) == (
        "r-0",
        FactSource.FEED,
        f"feed:{lab.source.id}",
    )
    assert [f.subject_id for f in lab.facts(FactKind.VACCINATION)] == ["r-2"]


def test_the_same_batch_twice_changes_nothing_and_a_record_sent_again_is_a_duplicate() -> None:
    lab = _lab()
    first = lab.send([_result("r1", NUMBERS[0]), _result("r2", NUMBERS[1])])
    facts = dict(lab.store.facts)
    again = lab.send([_result("r1", NUMBERS[0]), _result("r2", NUMBERS[1])])
    assert again == {**first, "replayed": True}
    assert lab.store.facts == facts
    later = lab.send([_result("r2", NUMBERS[1]), _result("r3", NUMBERS[2])], batch_id="b-2")
    assert (later["accepted"], later["duplicates"], later["rejected"]) == (1, 1, 0)
    assert len(lab.facts(FactKind.TEST_RESULT)) == 3
    with pytest.raises(Conflict) as reused:
        lab.send([_result("r9", NUMBERS[0])], batch_id="b-2")
    assert reused.value.reason == "batch_id_reused"


def test_a_positive_result_from_a_feed_opens_a_case_and_turns_the_resident_red() -> None:
    lab = _lab()
    lab.send([_result("r1", NUMBERS[0], result="positive")])
    (case,) = lab.store.cases.values()
    assert (case.resident_id, case.state, case.opened_by) == (
        "r-0",
        CaseState.SUSPECTED,
        f"feed:{lab.source.id}",
    )
    assert lab.store.statuses["r-0"].color == "red"
    assert lab.store.statuses["r-1"].color == "green"


def test_a_stay_in_a_declared_risk_area_becomes_an_arrival_fact() -> None:
    lab = _lab("travel")
    now = lab.clock.now()
    lab.store.risk_areas.append(
        RiskArea("a1", "420106", "high", now - timedelta(days=10), None, "cdc-1", now - timedelta(days=10))
    )
    stay = {"document": {"type": "resident_id", "number": NUMBERS[1]}, "kind": "travel"}
    report = lab.send(
        [
            {
                **stay,
                "record_id": "t1",
                "region": "420106",
                "from": "2022-04-28T08:00:00+08:00",
                "to": "2022-05-01T20:00:00+08:00",
            },
            {
                **stay,
                "record_id": "t2",
                "region": "440306",
                "from": "2022-04-20T08:00:00+08:00",
                "to": "2022-04-21T20:00:00+08:00",
            },
            {
                **stay,
                "record_id": "t3",
                "region": "420106",
                "from": "2022-05-01T08:00:00+08:00",
                "to": "2022-04-01T20:00:00+08:00",
            },
        ]
    )
    assert (report["accepted"], report["facts"], report["rejected"]) == (2, 1, 1)
    (arrival,) = lab.facts(FactKind.RISK_AREA_ARRIVAL)
    assert dict(arrival.data) == {
        "region": "420106",
        "level": "high",
        "arrived_at": "2022-05-01T20:00:00+08:00",
    }
    assert arrival.expires_at == datetime(2022, 5, 1, 12, tzinfo=UTC) + risk_areas.ARRIVAL  # from its end
    assert lab.store.statuses["r-1"].color == "yellow"


def test_a_batch_of_stays_reads_the_risk_areas_once_and_finds_each_stays_level(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A province, a city and a district declared at different times: each stay takes the highest level
    of the areas that contain its region and were declared during it, its edges excluded."""
    lab = _lab("travel")
    day = timedelta(days=1)
    t0 = datetime(2022, 4, 20, tzinfo=UTC)
    lab.store.risk_areas += [
        RiskArea("p", "420000", "medium", t0, t0 + 2 * day, "cdc-1", t0),
        RiskArea("c", "420100", "high", t0 + 4 * day, None, "cdc-1", t0),
        RiskArea("d", "440306", "medium", t0 + day, t0 + 3 * day, "cdc-1", t0),
    ]
    stays = {  # record id: region, from, to (days after t0), the level expected
        "in-province": ("420503", 1, 1.5, "medium"),
        "after-province": ("420503", 2, 3, None),  # starts as the province's period ends
        "city-later": ("420106", 1, 5, "high"),  # medium then high: high
        "before-city": ("420106", 3, 4, None),  # ends as the city's starts
        "district": ("440306", 0, 2, "medium"),
        "next-district": ("440307", 0, 2, None),
    }
    reads: list[tuple[datetime, datetime]] = []
    with lab.deps.uow() as uow:
        repository = type(uow.risk_areas)
    overlapping = repository.overlapping

    def counted(self: Any, start: datetime, end: datetime) -> list[RiskArea]:
        reads.append((start, end))
        return overlapping(self, start, end)

    monkeypatch.setattr(repository, "overlapping", counted)
    report = lab.send(
        [
            {
                "record_id": record_id,
                "kind": "travel",
                "document": {"type": "resident_id", "number": NUMBERS[n % len(NUMBERS)]},
                "region": region,
                "from": (t0 + start * day).isoformat(),
                "to": (t0 + end * day).isoformat(),
            }
            for n, (record_id, (region, start, end, _)) in enumerate(stays.items())
        ]
    )
    assert (report["accepted"], report["facts"]) == (6, 3)
    assert reads == [(t0, t0 + 5 * day)]  # one read for the batch's whole period
    levels = {f.note.removeprefix("record "): f.data["level"] for f in lab.facts(FactKind.RISK_AREA_ARRIVAL)}
    assert levels == {k: level for k, (_, _, _, level) in stays.items() if level is not None}


def test_a_stays_arrival_fact_expires_from_the_stays_end_or_from_its_receipt_if_later() -> None:
    """A stay reported 21 days and a minute after it ended is kept already expired; one that ends a few
    minutes after the batch arrived (within the sources' clock tolerance) from the batch's receipt."""
    lab = _lab("travel")
    now = lab.clock.now()
    lab.store.risk_areas.append(
        RiskArea("a1", "420106", "high", now - timedelta(days=60), None, "cdc-1", now - timedelta(days=60))
    )

    def stay(record_id: str, number: str, left: datetime) -> dict[str, Any]:
        document = {"type": "resident_id", "number": number}
        return {"record_id": record_id, "kind": "travel", "document": document, "region": "420106"} | {
            "from": _local(left - timedelta(days=3)),
            "to": _local(left),
        }

    late = now - risk_areas.ARRIVAL - timedelta(minutes=1)
    report = lab.send([stay("t1", NUMBERS[1], late), stay("t2", NUMBERS[2], now + timedelta(minutes=5))])
    assert (report["accepted"], report["facts"]) == (2, 2)
    expiry = {f.note: f.expires_at for f in lab.facts(FactKind.RISK_AREA_ARRIVAL)}
    assert expiry == {"record t1": late + risk_areas.ARRIVAL, "record t2": now + risk_areas.ARRIVAL}
    assert all(e.tzinfo is UTC for e in expiry.values())


def test_csv_batches_are_read_like_json_lines() -> None:
    lab = _lab()
    body = (
        "record_id,kind,document_type,document_number,test,result,sampled_at\n"
        f"c1,test_result,resident_id,{NUMBERS[0]},antigen,negative,2022-05-02T09:00:00Z\n"
        f"c2,test_result,resident_id,{NUMBERS[1]},antigen,unclear,2022-05-02T09:00:00Z\n"
        f"c3,test_result,resident_id,{NUMBERS[2]},pcr,negative,2022-05-02T09:00:00Z,extra\n"
    ).encode()
    report = lab.send_bytes(body, "csv-1", "text/csv")
    assert (report["accepted"], report["rejected"]) == (1, 2)
    assert [r["errors"][0]["reason"] for r in report["rejections"]] == ["invalid", "extra_cells"]


def test_the_signature_binds_the_format_a_batch_is_read_in() -> None:
    """A body signed as JSON Lines cannot be imported as CSV (whoever intercepted it would burn its batch
    id on a misreading); both JSON Lines media types are the one format ``jsonl``."""
    lab = _lab()
    body = json.dumps(_result("r1", NUMBERS[0])).encode()
    as_jsonl = b64url.encode(lab.key.sign(fd.signing_input(lab.source.id, "b-1", "jsonl", body)))
    with pytest.raises(NotAuthenticated) as refused:
        feeds.import_batch(lab.deps, lab.source.id, "b-1", body, "text/csv", as_jsonl)
    assert refused.value.reason == "feed_signature_invalid"
    assert not lab.store.feed_batches
    report = feeds.import_batch(lab.deps, lab.source.id, "b-1", body, "application/x-ndjson", as_jsonl)
    assert (report["accepted"], report["replayed"]) == (1, False)


def test_a_batch_not_signed_by_the_registered_key_is_refused_and_nothing_is_kept() -> None:
    lab = _lab()
    body = json.dumps(_result("r1", NUMBERS[0])).encode()
    other = Ed25519PrivateKey.generate()
    forged = b64url.encode(other.sign(fd.signing_input(lab.source.id, "b-1", "jsonl", body)))
    for source_id, signature in ((lab.source.id, forged), ("no-such-source", forged), (lab.source.id, "")):
        with pytest.raises(NotAuthenticated) as refused:
            feeds.import_batch(lab.deps, source_id, "b-1", body, "application/jsonl", signature)
        assert refused.value.reason == "feed_signature_invalid"
    # A signature over another batch id (a replayed body under a new id) does not pass either.
    signed = b64url.encode(lab.key.sign(fd.signing_input(lab.source.id, "b-1", "jsonl", body)))
    with pytest.raises(NotAuthenticated):
        feeds.import_batch(lab.deps, lab.source.id, "b-2", body, "application/jsonl", signed)
    assert not lab.store.facts.keys() - {
        f.id for f in lab.store.facts.values() if f.kind is not FactKind.TEST_RESULT
    }
    assert not lab.store.feed_batches


def test_a_body_changed_after_signing_is_refused() -> None:
    """The importer checks the signature against the SHA-256 of the body it received (hashed once, for
    the signature and the batch's digest): a body changed by one byte, or cut short, does not pass."""
    lab = _lab()
    body = json.dumps(_result("r1", NUMBERS[0])).encode()
    signed = b64url.encode(lab.key.sign(fd.signing_input(lab.source.id, "b-1", "jsonl", body)))
    for changed in (body.replace(b"negative", b"positive"), body[:-1], body + b"\n"):
        with pytest.raises(NotAuthenticated):
            feeds.import_batch(lab.deps, lab.source.id, "b-1", changed, "application/jsonl", signed)
    assert not lab.store.feed_batches
    report = feeds.import_batch(lab.deps, lab.source.id, "b-1", body, "application/jsonl", signed)
    assert (report["accepted"], report["replayed"]) == (1, False)


def test_registering_sources_is_for_administrators_with_a_real_key() -> None:
    lab = _lab()
    with pytest.raises(PermissionDenied):
        feeds.register_source(
            lab.deps,
            StaffActor("cdc", Role.CDC, "440100"),
            feeds.NewSource("x", "lab", _public(lab.key), "440100"),
        )
    for kind, key in (("lab", "not-a-key"), ("lab", "A" * 44), ("oracle", _public(lab.key))):
        with pytest.raises(InvalidInput):
            feeds.register_source(lab.deps, ADMIN, feeds.NewSource("x", kind, key, "440100"))
    with pytest.raises(InvalidInput) as media:
        feeds.import_batch(lab.deps, lab.source.id, "b", b"", "application/json", "")
    assert media.value.reason == "feed_media_type"


def test_a_batchs_facts_are_numbered_in_the_order_of_their_holders() -> None:
    """Fact ids ascend in the order of the residents they are about (so that PostgreSQL adds each to the
    index of a resident's facts in key order), and each fact keeps its own record's resident and data."""
    lab = _lab()
    holders = [2, 0, 1, 2, 0]
    sampled = [f"2022-05-02T09:0{k}:00+08:00" for k in range(len(holders))]
    report = lab.send([_result(f"rec-{k}", NUMBERS[n], sampled_at=sampled[k]) for k, n in enumerate(holders)])
    assert report["facts"] == len(holders)
    facts = sorted(lab.facts(FactKind.TEST_RESULT), key=lambda f: f.id)
    assert [f.subject_id for f in facts] == ["r-0", "r-0", "r-1", "r-2", "r-2"]
    assert {(f.note, f.subject_id, f.data["sampled_at"]) for f in facts} == {
        (f"record rec-{k}", f"r-{n}", sampled[k]) for k, n in enumerate(holders)
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["r-3", "r-1", "r-2", "r-10", "r-0"]), max_size=30))
def test_feed_facts_take_ascending_ids_in_their_holders_order(subjects: list[str]) -> None:
    facts = FeedFacts("feed:lab", datetime(2022, 5, 2, tzinfo=UTC))
    expires = datetime(2022, 5, 16, tzinfo=UTC)
    for k, subject in enumerate(subjects):
        facts.add(subject, FactKind.TEST_RESULT, json.dumps({"k": k}), expires, f"record {k}")
    ids = [f"id-{k:04d}" for k in range(len(subjects))]
    facts.number(ids)
    assert sorted(facts.order) == list(range(len(subjects)))  # each fact stored once
    assert [facts.ids[n] for n in facts.order] == ids  # ascending as stored ...
    assert [facts.subjects[n] for n in facts.order] == sorted(subjects)  # ... in the holders' order
    assert [(f.subject_id, f.data["k"], f.note) for f in map(facts.fact, range(len(facts)))] == [
        (subject, k, f"record {k}")
        for k, subject in enumerate(subjects)  # each fact as it was added
    ]
    assert len(set(facts.ids)) == len(subjects)
    with pytest.raises(ValueError, match=r"facts, \d+ ids"):
        facts.number([*ids, "one too many"])


def test_a_bulk_batch_marks_its_residents_due_and_their_next_read_is_red() -> None:
    lab = _lab()
    bulk = replace(lab.deps, limits=replace(lab.deps.limits, feed_sync_residents=0))
    lab.deps = bulk
    before = lab.store.statuses["r-0"]
    assert before.review_at > lab.clock.now()
    lab.send([_result("r1", NUMBERS[0], result="positive")])
    assert lab.store.statuses["r-0"] == before  # not re-evaluated in the batch, nor written ...
    with lab.deps.uow() as uow:
        read = uow.statuses.get("r-0")
        assert [m.subject_ids for m in uow.statuses.marks(10)] == [["r-0"]]  # ... but marked for the sweep
    assert read == replace(before, marked=True)  # which reads as due now
    assert status_service.fresh(lab.deps, "r-0").color == "red"  # the next code or verification sees it
    # the sweep re-evaluates the batch's residents once after it, read since or not, then drops the mark
    assert status_service.sweep(lab.deps) == 1
    assert lab.store.status_marks == []
    assert status_service.sweep(lab.deps) == 0  # nothing left due


def test_a_bulk_batch_of_stays_marks_due_only_those_it_gave_an_arrival() -> None:
    """A stay outside every risk area makes no fact, so its resident's status has nothing new to read."""
    lab = _lab("travel")
    lab.deps = replace(lab.deps, limits=replace(lab.deps.limits, feed_sync_residents=0))
    now = lab.clock.now()
    lab.store.risk_areas.append(
        RiskArea("a1", "420106", "high", now - timedelta(days=10), None, "cdc-1", now)
    )
    stays = [
        {
            "record_id": f"t{n}",
            "kind": "travel",
            "document": {"type": "resident_id", "number": NUMBERS[n]},
            "region": region,
            "from": _local(now - timedelta(days=2)),
            "to": _local(now - timedelta(days=1)),
        }
        for n, region in enumerate(["420106", "440306"])
    ]
    report = lab.send(stays)
    assert (report["accepted"], report["facts"]) == (2, 1)
    with lab.deps.uow() as uow:
        assert [m.subject_ids for m in uow.statuses.marks(10)] == [["r-0"]]
        read = [uow.statuses.get(r) for r in ("r-0", "r-1")]
    assert [status is not None and status.marked for status in read] == [True, False]


def test_nul_characters_and_broken_csv_are_refused_record_by_record() -> None:
    lab = _lab()
    good = json.dumps(_result("ok", NUMBERS[0]))
    with_nul = json.dumps(_result("nul", NUMBERS[1], sampled_at="2022-05-02T09:00:00+08:00\u0000"))
    report = lab.send([good, with_nul, '{"broken\x00'])
    assert (report["accepted"], report["rejected"]) == (1, 2)
    reasons = {r["line"]: r["errors"][0]["reason"] for r in report["rejections"]}
    assert reasons == {2: "nul_character", 3: "malformed_json"}
    assert all("\x00" not in r.raw for _, _, r in lab.store.feed_quarantine)
    body = (
        'record_id,kind,document_type,document_number\nx,test_result,passport,"E1' + "1" * 200_000
    ).encode()
    broken = lab.send_bytes(body, "csv-broken", "text/csv")
    assert broken["rejections"][-1]["errors"][0]["reason"] == "malformed_csv"


def _local(moment: datetime) -> str:
    return moment.astimezone(timezone(timedelta(hours=8))).isoformat(timespec="seconds")


def test_a_record_dated_after_its_batch_arrived_is_rejected_and_every_time_has_an_instant_in_utc() -> None:
    """A negative result dated tomorrow would count today as the test that ends an isolation: a record's
    times may be at most ``CLOCK_TOLERANCE`` (10 minutes: a source's clock may run ahead) past the batch's
    receipt. A time whose instant in UTC is before the year 1 is no time at all (the status engine reads
    times in UTC): rejected, where a travel stay from such a time had failed the whole import."""
    lab = _lab()
    now = lab.clock.now()
    report = lab.send(
        [
            _result("r1", NUMBERS[0], sampled_at=_local(now + timedelta(minutes=10))),
            _result("r2", NUMBERS[1], sampled_at=_local(now + timedelta(minutes=10, seconds=1))),
            _result("r3", NUMBERS[2], sampled_at="0001-01-01T07:59:59+08:00"),
            _result("r4", NUMBERS[2], sampled_at="2099-01-01T00:00:00Z"),
        ]
    )
    assert (report["accepted"], report["rejected"]) == (1, 3)
    reasons = {r["record_id"]: [(e["path"], e["reason"]) for e in r["errors"]] for r in report["rejections"]}
    assert reasons == {
        "r2": [("sampled_at", "future")],
        "r3": [("sampled_at", "invalid")],
        "r4": [("sampled_at", "future")],
    }
    assert [f.data["sampled_at"] for f in lab.facts(FactKind.TEST_RESULT)] == [
        _local(now + timedelta(minutes=10))
    ]

    travel = _lab("travel")
    stay = {"kind": "travel", "document": {"type": "resident_id", "number": NUMBERS[0]}, "region": "440106"}
    report = travel.send(
        [
            {**stay, "record_id": "s1", "from": "0001-01-01T00:00:00+08:00", "to": _local(now)},
            {
                **stay,
                "record_id": "s2",
                "from": _local(now - timedelta(days=2)),
                "to": _local(now + timedelta(days=1)),
            },
            {**stay, "record_id": "s3", "from": _local(now - timedelta(days=2)), "to": _local(now)},
        ]
    )
    assert (report["accepted"], report["rejected"]) == (1, 2)
    assert {
        r["record_id"]: [(e["path"], e["reason"]) for e in r["errors"]] for r in report["rejections"]
    } == {
        "s1": [("from", "invalid")],
        "s2": [("to", "future")],
    }


def test_a_feed_fact_expires_counted_from_when_its_sample_was_taken_or_its_dose_given() -> None:
    """A result is good for RESULT_FACT_DAYS from its sample, a dose for VACCINATION_FACT_DAYS from its
    day (from the end of the minute each happened in), however late the source sends them: a result
    sampled 15 days before it arrives is stored already expired (the status engine does not count it)."""
    lab = _lab()
    now = lab.clock.now()
    sampled = now - timedelta(hours=30, microseconds=250)  # 2022-05-02T01:59:59.99975Z
    late = now - timedelta(days=15)
    report = lab.send(
        [
            _result("r1", NUMBERS[0], sampled_at=sampled.isoformat()),  # microseconds: the reference reads it
            _result("r2", NUMBERS[1], sampled_at=_local(late)),
            _vaccination("v1", NUMBERS[2]),
        ]
    )
    assert report["accepted"] == 3
    expiry = {f.note: f.expires_at for f in lab.store.facts.values() if f.source is FactSource.FEED}
    assert expiry == {
        "record r1": datetime(2022, 5, 2, 2, 0, tzinfo=UTC) + timedelta(days=feeds.RESULT_FACT_DAYS),
        "record r2": late + timedelta(days=feeds.RESULT_FACT_DAYS),
        "record v1": datetime(2022, 3, 1, 2, 0, tzinfo=UTC) + timedelta(days=feeds.VACCINATION_FACT_DAYS),
    }
    assert expiry["record r2"] < now  # stored, but no longer held
