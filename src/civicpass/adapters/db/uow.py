"""The SQL unit of work: one connection and one transaction, rolled back unless committed.

Database constraint violations (two concurrent enrolments of one phone, a reused key) are translated
at this boundary into the domain's ``Conflict`` so that no SQLAlchemy exception leaves the adapter.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from civicpass.adapters.crypto.pii import HmacDigest, PiiCipher
from civicpass.adapters.db import checkin_repositories as c
from civicpass.adapters.db import feed_repositories as fr
from civicpass.adapters.db import followup_repositories as fu
from civicpass.adapters.db import log_repositories as lr
from civicpass.adapters.db import privacy_repositories as pr
from civicpass.adapters.db import repositories as r
from civicpass.adapters.db import status_repositories as s
from civicpass.adapters.db import tracing_repositories as tr
from civicpass.adapters.db.mark_filters import MarkFilters
from civicpass.domain.errors import CivicpassError, InvalidInput, Message, Unavailable, conflicting_write
from civicpass.services import ports

_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
_UNSTORABLE = (DataError, psycopg.DataError)
_CONFLICT = (IntegrityError, psycopg.IntegrityError)
TRANSLATED = (*_UNAVAILABLE, *_UNSTORABLE, *_CONFLICT)
"""SQLAlchemy's errors, and psycopg's own from the plain-SQL fast path (``pg_hot``), which bypasses them."""


def translate(exc: BaseException) -> CivicpassError:
    """Database refusals as domain errors: a constraint race is a conflict, an unstorable value bad input,
    an unreachable, locked, cancelled or deadlocked database a 503 to retry (nothing was committed).

    The web layer refuses such values first (NUL characters, out-of-range numbers); this is the backstop.
    """
    if isinstance(exc, _UNAVAILABLE):
        return Unavailable(
            "database_unavailable",
            Message("the database cannot be reached just now; retry", "数据库暂时无法访问，请稍后重试"),
            extra={"retry_after": 2},
        )
    if isinstance(exc, _UNSTORABLE):
        return InvalidInput(
            "value_not_storable", Message("a value cannot be stored as given", "某个值无法按原样保存")
        )
    return conflicting_write()


class SqlUnitOfWork:
    residents: ports.ResidentRepository
    guardianships: ports.GuardianshipRepository
    challenges: ports.ChallengeRepository
    sessions: ports.SessionRepository
    staff: ports.StaffRepository
    forms: ports.FormRepository
    declarations: ports.DeclarationRepository
    access_log: ports.AccessLogRepository
    idempotency: ports.IdempotencyRepository
    regions: ports.RegionRepository
    venues: ports.VenueRepository
    meta: ports.MetaRepository
    facts: ports.FactRepository
    rulesets: ports.RuleSetRepository
    statuses: ports.StatusRepository
    events: ports.EventRepository
    risk_areas: ports.RiskAreaRepository
    checkins: ports.CheckinRepository
    cases: ports.CaseRepository
    proposals: ports.ProposalRepository
    feeds: ports.FeedRepository
    tasks: ports.TaskRepository
    appeals: ports.AppealRepository
    log: ports.LogRepository
    witnessed: ports.WitnessedRepository
    privacy: ports.PrivacyRepository
    tracing: ports.TracingEngine

    def __init__(
        self, engine: sa.Engine, cipher: PiiCipher, digest: HmacDigest, filters: MarkFilters | None = None
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.digest = digest
        self.filters = MarkFilters() if filters is None else filters

    def __enter__(self) -> Self:
        try:
            self.conn = self.engine.connect()
        except OperationalError as exc:
            raise translate(exc) from exc
        try:
            self.conn.begin()
        except OperationalError as exc:
            self.conn.close()
            raise translate(exc) from exc
        self.residents = r.SqlResidents(self.conn, self.cipher, self.digest)
        self.guardianships = r.SqlGuardianships(self.conn)
        self.challenges = r.SqlChallenges(self.conn, self.cipher, self.digest)
        self.sessions = r.SqlSessions(self.conn)
        self.staff = r.SqlStaff(self.conn)
        self.forms = r.SqlForms(self.conn)
        self.declarations = r.SqlDeclarations(self.conn)
        self.access_log = r.SqlAccessLog(self.conn)
        self.idempotency = r.SqlIdempotency(self.conn)
        self.regions = r.SqlRegions(self.conn)
        self.venues = c.SqlVenues(self.conn)
        self.checkins = c.SqlCheckins(self.conn)
        self.meta = r.SqlMeta(self.conn)
        self.facts = s.SqlFacts(self.conn)
        self.rulesets = s.SqlRuleSets(self.conn)
        self.statuses = s.SqlStatuses(self.conn, self.filters)
        self.events = s.SqlEvents(self.conn)
        self.risk_areas = s.SqlRiskAreas(self.conn)
        self.cases = tr.SqlCases(self.conn)
        self.proposals = tr.SqlProposals(self.conn)
        self.tracing = tr.SqlTracing(self.conn)
        self.feeds = fr.SqlFeeds(self.conn)
        self.tasks = fu.SqlTasks(self.conn)
        self.appeals = fu.SqlAppeals(self.conn)
        self.log = lr.SqlLog(self.conn)
        self.witnessed = lr.SqlWitnessed(self.conn)
        self.privacy = pr.SqlPrivacy(self.conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.rollback()
        except TRANSLATED:  # the connection broke (what failed the work, likely): never reuse it
            self.conn.invalidate()
        finally:
            self.conn.close()
        if isinstance(exc, TRANSLATED):
            raise translate(exc) from exc

    def commit(self) -> None:
        try:
            self.conn.commit()
        except TRANSLATED as exc:
            raise translate(exc) from exc

    def rollback(self) -> None:
        if self.conn.in_transaction():
            self.conn.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: sa.Engine, cipher: PiiCipher, digest: HmacDigest) -> None:
        self.engine = engine
        self.cipher = cipher
        self.digest = digest
        self.filters = MarkFilters()  # the marks' filters this process has fetched, for all its units

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.cipher, self.digest, self.filters)
