"""The tracing engines agree: SQL on the operational database (SQLite, PostgreSQL), DuckDB over the Parquet
exports and the reference semantics in ``domain.tracing`` find the same exposures and grade the same
contacts, in a generated city; and the case/tracing services work end to end on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from civicpass.adapters.analytics import DuckDbTracing
from civicpass.adapters.exports import export_day
from civicpass.bootstrap import Container
from civicpass.domain import tracing as tr
from civicpass.domain.cases import CaseState
from civicpass.domain.policy import StaffActor
from civicpass.domain.proposals import Decision, ProposalState
from civicpass.domain.staff import Role
from civicpass.services import tracing
from civicpass.services.simulation import Plan, simulate
from tests.fakes import FakeClock

CDC_A = StaffActor("cdc-a", Role.CDC, "440100")
CDC_B = StaffActor("cdc-b", Role.CDC, "440100")


def _city(container: Container, clock: FakeClock) -> tuple[list[str], DuckDbTracing, list[str]]:
    report = simulate(container.deps, Plan(residents=1500, venues=60, days=5, seed=7, outbreaks=3))
    assert report.checkins > 8000
    assert len(report.cases) == 3
    exports = container.settings.data_dir / "exports"
    day = (clock.now() - timedelta(days=6)).date()
    while day <= clock.now().date():
        export_day(container.engine, day, exports)
        day += timedelta(days=1)
    return report.cases, DuckDbTracing(exports), report.forwarded


def _everything(container: Container) -> list[tr.Visit]:
    """Every stored check-in, as tracing reads them."""
    with container.deps.uow() as uow:
        residents = uow.residents.ids_after("", 100_000)
        return uow.tracing.visits_of(
            residents, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
        )


def _rows(found: list[tr.Exposure]) -> list[tuple[object, ...]]:
    return sorted((*vars(e).values(),) for e in found)


def test_sql_duckdb_and_the_reference_find_the_same_exposures_and_contacts(
    container: Container, clock: FakeClock
) -> None:
    case_ids, duck, forwarded = _city(container, clock)
    deps, policy = container.deps, container.deps.tracing
    visits = _everything(container)
    with deps.uow() as uow:
        index = []
        for case_id in case_ids:
            case = uow.cases.get(case_id)
            assert case is not None
            assert case.state is CaseState.SUSPECTED
            start, end = case.infectious_window(policy.infectious_before)
            index.append(tr.IndexPerson(case.id, case.resident_id, start, end))
        venues = uow.venues.get_many({v.venue_id for v in visits})
        vehicles = {k: v.is_vehicle for k, v in venues.items()}
        own = uow.tracing.visits_of(
            {i.resident_id for i in index}, index[0].start - policy.max_ride, clock.now()
        )
        presences = tr.index_presences(index, own, vehicles, policy)
        assert presences
        by_sql = uow.tracing.exposures(presences, policy)
        by_duckdb = duck.exposures(presences, policy)
        reference = tr.exposures(presences, visits, vehicles, policy)
        assert _rows(by_sql) == _rows(reference)
        assert _rows(by_duckdb) == _rows(reference)
        contacts = tracing.trace(uow, deps, uow.tracing, index)
        assert contacts == tracing.trace(uow, deps, duck, index)
    grades = {c.grade for c in contacts}
    assert grades == {tr.ContactGrade.CLOSE, tr.ContactGrade.COMPANION, tr.ContactGrade.WEAK_ONLY}
    weak = {c.resident_id for c in contacts if c.grade is tr.ContactGrade.WEAK_ONLY}
    assert set(forwarded) & weak  # the forwarded codes' users are listed, weak only
    assert any(e.vehicle for c in contacts for e in c.exposures)  # bus trips are traced too


def test_a_case_is_traced_and_approved_on_the_database_with_either_engine(
    container: Container, clock: FakeClock
) -> None:
    case_ids, _, _ = _city(container, clock)
    deps = container.deps
    by_sql = tracing.run(deps, CDC_A, case_ids[0], engine="sql")
    clock.advance(minutes=1)
    by_duckdb = tracing.run(deps, CDC_A, case_ids[0], engine="duckdb")
    assert by_sql.contacts == by_duckdb.contacts
    assert by_sql.engine == "sql"
    assert by_duckdb.engine == "duckdb"
    assert by_sql.proposable()
    stored = tracing.get(deps, CDC_B, by_sql.id)
    assert stored == by_sql
    decided = tracing.approve(deps, CDC_B, by_sql.id, None)
    assert tracing.get(deps, CDC_A, by_sql.id) == decided
    assert decided.state is ProposalState.DECIDED
    approved = [c for c in decided.contacts if c.decision is Decision.APPROVED]
    assert approved
    assert all(c.fact_id for c in approved)
    with deps.uow() as uow:
        statuses = uow.statuses.get_many([c.resident_id for c in approved])
        assert {s.color for s in statuses.values()} <= {"red", "yellow"}
        held = uow.facts.for_subjects([approved[0].resident_id])[approved[0].resident_id]
        assert any(f.id == approved[0].fact_id for f in held)
    assert tracing.of_case(deps, CDC_A, case_ids[0]) == [by_sql.id, by_duckdb.id]  # oldest first
