"""SQL repositories of the epidemiological core: cases, tracing proposals, and the SQL tracing engine."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from civicpass.adapters import tracing_sql
from civicpass.adapters.db import tables as t
from civicpass.domain.cases import Case, CaseOrigin, CaseState
from civicpass.domain.errors import conflicting_write
from civicpass.domain.proposals import Decision, ProposalState, ProposedContact, TracingProposal
from civicpass.domain.tracing import ContactGrade, Exposure, IndexPresence, TracingPolicy, Visit


class _Repo:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn


def _case(m: Any) -> Case:
    fields = {k: m[k] for k in Case.__dataclass_fields__}
    return Case(**{**fields, "state": CaseState(m["state"]), "origin": CaseOrigin(m["origin"])})


class SqlCases(_Repo):
    def add(self, case: Case) -> None:
        self.conn.execute(
            t.cases.insert(), {**vars(case), "state": case.state.value, "origin": case.origin.value}
        )

    def get(self, case_id: str) -> Case | None:
        row = self.conn.execute(sa.select(t.cases).where(t.cases.c.id == case_id)).first()
        return None if row is None else _case(row._mapping)

    def update(self, case: Case) -> None:
        values = {**vars(case), "state": case.state.value, "origin": case.origin.value}
        self.conn.execute(t.cases.update().where(t.cases.c.id == case.id).values(**values))

    def of_resident(self, resident_id: str) -> list[Case]:
        c = t.cases.c
        rows = self.conn.execute(sa.select(t.cases).where(c.resident_id == resident_id).order_by(c.opened_at))
        return [_case(r._mapping) for r in rows]

    def in_region(self, prefix: str, states: Collection[CaseState], limit: int) -> list[Case]:
        c = t.cases.c
        query = sa.select(t.cases).where(c.region_code.startswith(prefix)).order_by(c.opened_at.desc(), c.id)
        if states:
            query = query.where(c.state.in_([s.value for s in states]))
        return [_case(r._mapping) for r in self.conn.execute(query.limit(limit))]


def _contact_row(proposal_id: str, c: ProposedContact) -> dict[str, Any]:
    return {
        "proposal_id": proposal_id,
        "resident_id": c.resident_id,
        "grade": c.grade.value,
        "last_exposure": c.last_exposure,
        "longest_seconds": c.longest_seconds,
        "evidence": [dict(e) for e in c.evidence],
        "decision": c.decision.value,
        "fact_id": c.fact_id,
        "note": c.note,
    }


def _proposal_row(p: TracingProposal) -> dict[str, Any]:
    row = {k: getattr(p, k) for k in TracingProposal.__dataclass_fields__ if k != "contacts"}
    return {**row, "state": p.state.value, "policy": dict(p.policy)}


class SqlProposals(_Repo):
    def add(self, proposal: TracingProposal) -> None:
        self.conn.execute(t.tracing_proposals.insert(), _proposal_row(proposal))
        if proposal.contacts:
            self.conn.execute(
                t.tracing_contacts.insert(), [_contact_row(proposal.id, c) for c in proposal.contacts]
            )

    def get(self, proposal_id: str) -> TracingProposal | None:
        p, c = t.tracing_proposals, t.tracing_contacts
        row = self.conn.execute(sa.select(p).where(p.c.id == proposal_id)).first()
        if row is None:
            return None
        contacts = self.conn.execute(
            sa.select(c).where(c.c.proposal_id == proposal_id).order_by(c.c.grade, c.c.resident_id)
        )
        m = dict(row._mapping)
        return TracingProposal(
            **{k: m[k] for k in TracingProposal.__dataclass_fields__ if k != "contacts"}
            | {"state": ProposalState(m["state"])},
            contacts=tuple(
                ProposedContact(
                    r.resident_id,
                    ContactGrade(r.grade),
                    r.last_exposure,
                    r.longest_seconds,
                    tuple(r.evidence),
                    Decision(r.decision),
                    r.fact_id,
                    r.note,
                )
                for r in contacts
            ),
        )

    def update(self, proposal: TracingProposal) -> None:
        """Record a decision; only a pending proposal can be decided (a concurrent second decision conflicts)."""
        p, c = t.tracing_proposals, t.tracing_contacts
        decided = self.conn.execute(
            p.update()
            .where(p.c.id == proposal.id, p.c.state == ProposalState.PENDING.value)
            .values(**_proposal_row(proposal))
        )
        if decided.rowcount != 1:
            raise conflicting_write()
        for contact in proposal.contacts:
            self.conn.execute(
                c.update()
                .where(c.c.proposal_id == proposal.id, c.c.resident_id == contact.resident_id)
                .values(decision=contact.decision.value, fact_id=contact.fact_id, note=contact.note)
            )

    def of_case(self, case_id: str) -> list[str]:
        p = t.tracing_proposals.c
        query = sa.select(p.id).where(p.case_id == case_id).order_by(p.requested_at, p.id)
        return list(self.conn.execute(query).scalars())


_PRESENCES = sa.Table(
    "tc_presences",
    sa.MetaData(),
    sa.Column("index_key", sa.String(36)),
    sa.Column("resident_id", sa.String(36)),
    sa.Column("venue_id", sa.String(36)),
    sa.Column("checkin_id", sa.String(36)),
    sa.Column("vehicle", sa.Integer),
    sa.Column("s", sa.BigInteger),
    sa.Column("e", sa.BigInteger),
    sa.Column("evidence", sa.String(8)),
    sa.Column("lo", t.UTCDateTime),
    sa.Column("hi", t.UTCDateTime),
    prefixes=["TEMPORARY"],
)


class SqlTracing(_Repo):
    """The SQL tracing engine: the operational database answers (small jobs; see DuckDB for large ones)."""

    name = "sql"

    def visits_of(self, residents: Collection[str], start: datetime, end: datetime) -> list[Visit]:
        if not residents:
            return []
        c = t.checkins.c
        query = sa.select(*(c[name] for name in tracing_sql.VISIT_COLUMNS)).where(
            t.among(self.conn, c.resident_id, residents), c.at >= start, c.at <= end
        )
        return [tracing_sql.visit_of(row) for row in self.conn.execute(query)]

    def exposures(self, index: Sequence[IndexPresence], policy: TracingPolicy) -> list[Exposure]:
        if not index:
            return []
        rows = tracing_sql.presence_rows(index, policy)
        lo, hi = tracing_sql.overall_bounds(rows)
        text = tracing_sql.exposure_query(self.conn.dialect.name, policy, ":lo", ":hi")
        query = sa.text(text).bindparams(
            sa.bindparam("lo", type_=t.UTCDateTime), sa.bindparam("hi", type_=t.UTCDateTime)
        )
        # A temporary table inside the unit of work's transaction: a failure rolls its creation back too.
        _PRESENCES.create(self.conn)
        self.conn.execute(_PRESENCES.insert(), rows)
        found = [tracing_sql.exposure_of(r) for r in self.conn.execute(query, {"lo": lo, "hi": hi})]
        _PRESENCES.drop(self.conn)
        return sorted(found)
