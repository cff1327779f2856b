"""SQL repositories: map rows to domain objects and back. Personal data is sealed on the way in.

Each repository works on the connection of its unit of work; none commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from civicpass.adapters.crypto.pii import HmacDigest, PiiCipher
from civicpass.adapters.db import pg_hot
from civicpass.adapters.db import tables as t
from civicpass.domain.access import AccessRecord, Purpose, StatedPurpose
from civicpass.domain.declarations import Declaration
from civicpass.domain.forms import FormVersion
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.phone import PhoneChallenge
from civicpass.domain.regions import Region, RegionLevel
from civicpass.domain.residents import Guardianship, PersonalData, Resident, ResidentKind
from civicpass.domain.sessions import Session, SubjectKind
from civicpass.domain.staff import Role, StaffMember
from civicpass.services.ports import SessionHolder, StoredResponse


class _Repo:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn


RESIDENTS_BY_INDEX = "SELECT doc_index, id FROM residents WHERE doc_index = ANY({among}) AND active"


class SqlResidents(_Repo):
    def __init__(self, conn: sa.Connection, cipher: PiiCipher, digest: HmacDigest) -> None:
        super().__init__(conn)
        self.cipher = cipher
        self.digest = digest

    def _seal(self, resident_id: str, column: str, value: str | None) -> str | None:
        return None if value is None else self.cipher.encrypt(value, f"residents.{column}:{resident_id}")

    def _open(self, resident_id: str, column: str, value: str | None) -> str | None:
        return None if value is None else self.cipher.decrypt(value, f"residents.{column}:{resident_id}")

    def _row(self, r: Resident) -> dict[str, Any]:
        doc = r.pii.document
        return {
            "id": r.id,
            "pseudonym": r.pseudonym,
            "kind": r.kind.value,
            "name_ct": self._seal(r.id, "name", r.pii.name),
            "doc_type": doc.type.value,
            "doc_number_ct": self._seal(r.id, "doc_number", doc.number),
            "doc_index": self.digest.blind_index(doc.index_material) if doc.number else None,
            "nationality": doc.nationality,
            "phone_ct": self._seal(r.id, "phone", r.pii.phone),
            "phone_index": self.digest.blind_index(f"phone:{r.pii.phone}") if r.pii.phone else None,
            "address_ct": self._seal(r.id, "address", r.pii.address),
            "birth_date": r.birth_date,
            "region_code": r.region_code,
            "active": r.active,
            "created_at": r.created_at,
            "code_subject": r.code_subject,
        }

    def _resident(self, row: sa.Row[Any]) -> Resident:
        m = row._mapping
        name = self._open(m["id"], "name", m["name_ct"])
        return Resident(
            id=m["id"],
            pseudonym=m["pseudonym"],
            kind=ResidentKind(m["kind"]),
            pii=PersonalData(
                name=name or "",
                document=Document(
                    DocumentType(m["doc_type"]),
                    self._open(m["id"], "doc_number", m["doc_number_ct"]),
                    m["nationality"],
                ),
                phone=self._open(m["id"], "phone", m["phone_ct"]),
                address=self._open(m["id"], "address", m["address_ct"]),
            ),
            birth_date=m["birth_date"],
            region_code=m["region_code"],
            active=m["active"],
            created_at=m["created_at"],
            code_subject=m["code_subject"],
        )

    def add(self, resident: Resident) -> None:
        self.conn.execute(t.residents.insert(), self._row(resident))

    def add_many(self, residents: Sequence[Resident]) -> None:
        if residents:
            self.conn.execute(t.residents.insert(), [self._row(r) for r in residents])

    def _one(self, where: sa.ColumnElement[bool]) -> Resident | None:
        row = self.conn.execute(sa.select(t.residents).where(where)).first()
        return None if row is None else self._resident(row)

    def get(self, resident_id: str) -> Resident | None:
        return self._one(t.residents.c.id == resident_id)

    def by_document(self, document: Document) -> Resident | None:
        if document.number is None:
            return None
        return self._one(t.residents.c.doc_index == self.digest.blind_index(document.index_material))

    def pseudonyms(self, resident_ids: Collection[str]) -> dict[str, str]:
        """Each resident's pseudonym (what the transparency log names them by), no PII opened."""
        if not resident_ids:
            return {}
        r = t.residents.c
        rows = self.conn.execute(sa.select(r.id, r.pseudonym).where(t.among(self.conn, r.id, resident_ids)))
        return {row.id: row.pseudonym for row in rows}

    def ids_of_materials(self, materials: Sequence[str]) -> list[str | None]:
        """The id of the active resident whose document has each ``Document.index_material``, in order
        (None where none has), looked up by blind index (no PII opened); each distinct document once."""
        digests = [self.digest.blind_index(m) for m in materials]
        found: dict[str, str] = {}
        # on PostgreSQL a feed batch's tens of thousands go as one parameter, probed in the covering index
        # ``ix_residents_active_doc_index`` (``tables.any_text_probed``), in order: PostgreSQL sorts the
        # list for its index scan, and finds a sorted one sorted in one pass (about 1 µs a digest less there,
        # for under 0.5 more here; docs/performance.md)
        if pg := pg_hot.connection(self.conn):
            among, values = t.any_text_probed(sorted(set(digests)))
            # fetchall: the rows made in one call (psycopg's C loader), 0.5 µs a row less than iterating
            found.update(pg.execute(RESIDENTS_BY_INDEX.format(among=among), (values,)).fetchall())
            return [found.get(d) for d in digests]
        keys = list(set(digests))
        r = t.residents.c
        for start in range(0, len(keys), 5000):
            query = sa.select(r.doc_index, r.id).where(
                t.among(self.conn, r.doc_index, keys[start : start + 5000]), r.active.is_(True)
            )
            found.update((row.doc_index, row.id) for row in self.conn.execute(query))
        return [found.get(d) for d in digests]

    def by_phone(self, phone: str) -> Resident | None:
        return self._one(t.residents.c.phone_index == self.digest.blind_index(f"phone:{phone}"))

    def by_code_subject(self, code_subject: str) -> Resident | None:
        return self._one(t.residents.c.code_subject == code_subject)

    def set_code_subject(self, resident_id: str, code_subject: str) -> None:
        self.conn.execute(
            t.residents.update().where(t.residents.c.id == resident_id).values(code_subject=code_subject)
        )

    def set_active(self, resident_id: str, active: bool) -> None:
        self.conn.execute(t.residents.update().where(t.residents.c.id == resident_id).values(active=active))

    def in_region(self, prefix: str, limit: int, offset: int) -> list[Resident]:
        rows = self.conn.execute(
            sa.select(t.residents)
            .where(t.residents.c.region_code.startswith(prefix), t.residents.c.active.is_(True))
            .order_by(t.residents.c.created_at, t.residents.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [self._resident(r) for r in rows]

    def count(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(t.residents)).scalar_one())

    def ids_after(self, after: str, limit: int) -> list[str]:
        r = t.residents.c
        query = sa.select(r.id).where(r.id > after).order_by(r.id).limit(limit)
        return [row.id for row in self.conn.execute(query)]


class SqlGuardianships(_Repo):
    @staticmethod
    def _link(row: sa.Row[Any]) -> Guardianship:
        m = row._mapping
        return Guardianship(m["guardian_id"], m["dependent_id"], m["relation"], m["created_at"])

    def add(self, link: Guardianship) -> None:
        self.add_many([link])

    def add_many(self, links: Sequence[Guardianship]) -> None:
        if links:
            self.conn.execute(t.guardianships.insert(), [vars(link) for link in links])

    def remove(self, guardian_id: str, dependent_id: str) -> bool:
        g = t.guardianships.c
        result = self.conn.execute(
            t.guardianships.delete().where(g.guardian_id == guardian_id, g.dependent_id == dependent_id)
        )
        return bool(result.rowcount)

    def guardians_of(self, dependent_id: str) -> list[Guardianship]:
        g = t.guardianships.c
        rows = self.conn.execute(
            sa.select(t.guardianships).where(g.dependent_id == dependent_id).order_by(g.created_at)
        )
        return [self._link(r) for r in rows]

    def dependents_of(self, guardian_id: str) -> list[Guardianship]:
        g = t.guardianships.c
        rows = self.conn.execute(
            sa.select(t.guardianships).where(g.guardian_id == guardian_id).order_by(g.created_at)
        )
        return [self._link(r) for r in rows]


class SqlChallenges(_Repo):
    def __init__(self, conn: sa.Connection, cipher: PiiCipher, digest: HmacDigest) -> None:
        super().__init__(conn)
        self.cipher = cipher
        self.digest = digest

    def _challenge(self, row: sa.Row[Any] | None) -> PhoneChallenge | None:
        if row is None:
            return None
        m = dict(row._mapping)
        phone = self.cipher.decrypt(m.pop("phone_ct"), f"phone_challenges.phone:{m['id']}")
        m.pop("phone_index")
        return PhoneChallenge(phone=phone, **m)

    def add(self, challenge: PhoneChallenge) -> None:
        row = vars(challenge).copy()
        phone = row.pop("phone")
        row["phone_ct"] = self.cipher.encrypt(phone, f"phone_challenges.phone:{challenge.id}")
        row["phone_index"] = self.digest.blind_index(f"phone:{phone}")
        self.conn.execute(t.phone_challenges.insert(), row)

    def get(self, challenge_id: str) -> PhoneChallenge | None:
        return self._challenge(
            self.conn.execute(
                sa.select(t.phone_challenges).where(t.phone_challenges.c.id == challenge_id)
            ).first()
        )

    def by_ticket(self, ticket_digest: str) -> PhoneChallenge | None:
        c = t.phone_challenges.c
        return self._challenge(
            self.conn.execute(sa.select(t.phone_challenges).where(c.ticket_digest == ticket_digest)).first()
        )

    def update(self, challenge: PhoneChallenge) -> None:
        c = t.phone_challenges.c
        self.conn.execute(
            t.phone_challenges.update()
            .where(c.id == challenge.id)
            .values(
                attempts=challenge.attempts,
                confirmed_at=challenge.confirmed_at,
                ticket_digest=challenge.ticket_digest,
                ticket_expires_at=challenge.ticket_expires_at,
                consumed_at=challenge.consumed_at,
            )
        )

    def count_since(self, phone: str, since: datetime) -> int:
        c = t.phone_challenges.c
        query = sa.select(sa.func.count()).where(
            c.phone_index == self.digest.blind_index(f"phone:{phone}"), c.created_at >= since
        )
        return int(self.conn.execute(query).scalar_one())


class SqlSessions(_Repo):
    def add(self, session: Session) -> None:
        self.conn.execute(t.sessions.insert(), {**vars(session), "kind": session.kind.value})

    def holders(self, token_digests: Collection[str]) -> dict[str, SessionHolder]:
        if not token_digests:
            return {}
        if pg := pg_hot.connection(self.conn):
            return pg_hot.session_holders(pg, token_digests)
        s, r, st = t.sessions.c, t.residents.c, t.staff.c
        query = (
            sa.select(
                t.sessions, r.active.label("resident_active"), *(c.label("staff_" + c.name) for c in st)
            )
            .outerjoin(t.residents, sa.and_(s.kind == SubjectKind.RESIDENT.value, r.id == s.subject_id))
            .outerjoin(t.staff, sa.and_(s.kind == SubjectKind.STAFF.value, st.id == s.subject_id))
            .where(s.token_digest.in_(list(token_digests)))
        )
        rows = list(self.conn.execute(query).mappings())
        residents = [m["subject_id"] for m in rows if m["resident_active"] is not None]
        dependents: dict[str, set[str]] = {}
        g = t.guardianships.c
        links = sa.select(g.guardian_id, g.dependent_id).where(g.guardian_id.in_(residents))
        for guardian, dependent in self.conn.execute(links):
            dependents.setdefault(guardian, set()).add(dependent)
        holders = {}
        for m in rows:
            session = Session(
                m["token_digest"],
                SubjectKind(m["kind"]),
                m["subject_id"],
                m["created_at"],
                m["expires_at"],
                m["revoked_at"],
            )
            staff = None
            if m["staff_id"] is not None:
                fields = {c.name: m["staff_" + c.name] for c in st}
                staff = StaffMember(**{**fields, "role": Role(fields["role"])})
            active = bool(m["resident_active"]) or (staff is not None and staff.active)
            holders[session.token_digest] = SessionHolder(
                session, active, frozenset(dependents.get(session.subject_id, ())), staff
            )
        return holders

    def revoke(self, token_digest: str, at: datetime) -> None:
        s = t.sessions.c
        self.conn.execute(
            t.sessions.update()
            .where(s.token_digest == token_digest, s.revoked_at.is_(None))
            .values(revoked_at=at)
        )


class SqlStaff(_Repo):
    @staticmethod
    def _member(row: sa.Row[Any] | None) -> StaffMember | None:
        if row is None:
            return None
        m = dict(row._mapping)
        return StaffMember(**{**m, "role": Role(m["role"])})

    def add(self, member: StaffMember) -> None:
        self.conn.execute(t.staff.insert(), {**vars(member), "role": member.role.value})

    def get(self, staff_id: str) -> StaffMember | None:
        return self._member(self.conn.execute(sa.select(t.staff).where(t.staff.c.id == staff_id)).first())

    def by_username(self, username: str) -> StaffMember | None:
        return self._member(
            self.conn.execute(sa.select(t.staff).where(t.staff.c.username == username)).first()
        )


class SqlForms(_Repo):
    @staticmethod
    def _form(row: sa.Row[Any] | None) -> FormVersion | None:
        if row is None:
            return None
        m = row._mapping
        return FormVersion(
            m["key"],
            m["version"],
            m["title"],
            m["json_schema"],
            m["ui"],
            m["labels"],
            m["published_at"],
            m["published_by"],
        )

    def add(self, form: FormVersion) -> None:
        self.conn.execute(
            t.form_versions.insert(),
            {
                "key": form.key,
                "version": form.version,
                "title": dict(form.title),
                "json_schema": dict(form.schema),
                "ui": dict(form.ui),
                "labels": dict(form.labels),
                "published_at": form.published_at,
                "published_by": form.published_by,
            },
        )

    def get(self, key: str, version: int) -> FormVersion | None:
        f = t.form_versions.c
        return self._form(
            self.conn.execute(sa.select(t.form_versions).where(f.key == key, f.version == version)).first()
        )

    def latest(self, key: str) -> FormVersion | None:
        f = t.form_versions.c
        query = sa.select(t.form_versions).where(f.key == key).order_by(f.version.desc()).limit(1)
        return self._form(self.conn.execute(query).first())

    def all_latest(self) -> list[FormVersion]:
        f = t.form_versions.c
        newest = sa.select(f.key, sa.func.max(f.version).label("version")).group_by(f.key).subquery()
        query = (
            sa.select(t.form_versions)
            .join(newest, sa.and_(f.key == newest.c.key, f.version == newest.c.version))
            .order_by(f.key)
        )
        return [form for row in self.conn.execute(query) if (form := self._form(row)) is not None]


class SqlDeclarations(_Repo):
    @staticmethod
    def _declaration(row: sa.Row[Any]) -> Declaration:
        return Declaration(**row._mapping)

    def add(self, declaration: Declaration) -> None:
        self.conn.execute(t.declarations.insert(), vars(declaration))

    def get(self, declaration_id: str) -> Declaration | None:
        row = self.conn.execute(
            sa.select(t.declarations).where(t.declarations.c.id == declaration_id)
        ).first()
        return None if row is None else self._declaration(row)

    def for_subject(self, subject_id: str, limit: int) -> list[Declaration]:
        d = t.declarations.c
        query = (
            sa.select(t.declarations)
            .where(d.subject_id == subject_id)
            .order_by(d.submitted_at.desc(), d.id)
            .limit(limit)
        )
        return [self._declaration(r) for r in self.conn.execute(query)]


class SqlAccessLog(_Repo):
    def add(self, record: AccessRecord) -> None:
        self.conn.execute(
            t.access_log.insert(),
            {
                "id": record.id,
                "at": record.at,
                "staff_id": record.staff_id,
                "resident_id": record.resident_id,
                "resident_region": record.resident_region,
                "action": record.action,
                "purpose_code": record.purpose.code.value,
                "purpose_text": record.purpose.text,
                "fields": ",".join(record.fields),
            },
        )

    def list(self, resident_id: str | None, region_prefix: str, limit: int) -> list[AccessRecord]:
        a = t.access_log.c
        query = (
            sa.select(t.access_log)
            .where(a.resident_region.startswith(region_prefix))
            .order_by(a.at.desc(), a.id)
            .limit(limit)
        )
        if resident_id is not None:
            query = query.where(a.resident_id == resident_id)
        return [
            AccessRecord(
                m["id"],
                m["at"],
                m["staff_id"],
                m["resident_id"],
                m["resident_region"],
                m["action"],
                StatedPurpose(Purpose(m["purpose_code"]), m["purpose_text"]),
                tuple(m["fields"].split(",")),
            )
            for m in (row._mapping for row in self.conn.execute(query))
        ]


class SqlIdempotency(_Repo):
    def get(self, scope: str, key: str) -> StoredResponse | None:
        i = t.idempotency_keys.c
        row = self.conn.execute(
            sa.select(i.fingerprint, i.result_id).where(i.scope == scope, i.key == key)
        ).first()
        return None if row is None else StoredResponse(row.fingerprint, row.result_id)

    def add(self, scope: str, key: str, response: StoredResponse, at: datetime) -> None:
        self.conn.execute(
            t.idempotency_keys.insert(),
            {
                "scope": scope,
                "key": key,
                "fingerprint": response.fingerprint,
                "result_id": response.result_id,
                "created_at": at,
            },
        )


class SqlRegions(_Repo):
    @staticmethod
    def _region(row: sa.Row[Any]) -> Region:
        m = row._mapping
        return Region(m["code"], m["parent"], RegionLevel(m["level"]), m["name_zh"], m["name_en"])

    def upsert_many(self, regions: Iterable[Region]) -> int:
        rows = [{**vars(r), "level": r.level.value} for r in regions]
        if not rows:
            return 0
        existing = {r.code: r for r in self.conn.execute(sa.select(t.regions))}
        new = [r for r in rows if r["code"] not in existing]
        changed = [
            r for r in rows if r["code"] in existing and tuple(existing[r["code"]]) != tuple(r.values())
        ]
        if new:
            self.conn.execute(t.regions.insert(), new)
        for row in changed:
            self.conn.execute(t.regions.update().where(t.regions.c.code == row["code"]).values(**row))
        return len(new) + len(changed)

    def get(self, code: str) -> Region | None:
        row = self.conn.execute(sa.select(t.regions).where(t.regions.c.code == code)).first()
        return None if row is None else self._region(row)

    def children(self, code: str | None) -> list[Region]:
        r = t.regions.c
        where = r.parent.is_(None) if code is None else r.parent == code
        return [
            self._region(row) for row in self.conn.execute(sa.select(t.regions).where(where).order_by(r.code))
        ]


class SqlMeta(_Repo):
    def get(self, key: str) -> str | None:
        value = self.conn.execute(sa.select(t.app_meta.c.value).where(t.app_meta.c.key == key)).scalar()
        return None if value is None else str(value)

    def put(self, key: str, value: str) -> None:
        if self.get(key) is None:
            self.conn.execute(t.app_meta.insert(), {"key": key, "value": value})
        else:
            self.conn.execute(t.app_meta.update().where(t.app_meta.c.key == key).values(value=value))
