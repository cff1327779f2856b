"""Request and response bodies. Requests forbid unknown fields; responses are built from domain objects."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from civicpass.domain.access import AccessRecord
from civicpass.domain.checkins import CheckIn
from civicpass.domain.declarations import Declaration
from civicpass.domain.facts import ISO_TIME, Fact, in_time_range
from civicpass.domain.forms import FormVersion
from civicpass.domain.masking import mask_document, mask_name, mask_phone
from civicpass.domain.phone import local_part
from civicpass.domain.regions import Region
from civicpass.domain.residents import Guardianship, Resident
from civicpass.domain.rulesets import RuleSetVersion
from civicpass.domain.staff import Role, StaffMember
from civicpass.domain.venues import Venue
from civicpass.services.ports import StoredStatus

MAX_FORM_VERSION = 1_000_000


def _in_time_range(moment: datetime) -> datetime:
    if not in_time_range(moment):
        raise ValueError(ISO_TIME)
    return moment


Instant = Annotated[AwareDatetime, AfterValidator(_in_time_range)]
"""A time with its offset, within ``domain.facts.in_time_range`` (the services reckon days from it, which
past the years 1-9999 would raise)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        """U+0000 is valid JSON but no database text column takes it; refuse it at the door."""
        if contains_nul(data):
            raise ValueError("text must not contain the NUL character (U+0000)")
        return data


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


class DocumentIn(Strict):
    type: str = Field(max_length=40, examples=["resident_id"])
    number: str | None = Field(None, max_length=40)
    nationality: str | None = Field(None, max_length=3)


class PhoneIn(Strict):
    phone: str = Field(max_length=20, examples=["13800138000"])


class CodeIn(Strict):
    code: str = Field(min_length=4, max_length=8, pattern=r"^\d+$")


class EnrolIn(Strict):
    verification_token: str = Field(max_length=200)
    name: str = Field(max_length=64)
    document: DocumentIn
    region_code: str = Field(max_length=6)
    birth_date: date | None = None
    address: str | None = Field(None, max_length=200)


class SignInIn(Strict):
    verification_token: str = Field(max_length=200)


class DependentIn(Strict):
    name: str = Field(max_length=64)
    document: DocumentIn = DocumentIn(type="none")
    birth_date: date | None = None
    region_code: str | None = Field(None, max_length=6)
    relation: str = Field(max_length=20, examples=["parent"])
    address: str | None = Field(None, max_length=200)


class GuardianIn(Strict):
    phone: str = Field(max_length=20)
    relation: str = Field(max_length=20)


class DeclarationIn(Strict):
    form_key: str = Field(max_length=40, examples=["health"])
    form_version: int | None = Field(None, ge=1, le=MAX_FORM_VERSION)
    subject_id: str | None = Field(None, max_length=36, description="a dependent's id, to declare by proxy")
    answers: dict[str, Any]


class FormIn(Strict):
    title: dict[str, str]
    json_schema: dict[str, Any] = Field(alias="schema")
    ui: dict[str, Any] = {}
    labels: dict[str, Any] = {}


class StaffLoginIn(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class StaffIn(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    role: Role
    jurisdiction: str = Field(max_length=6)
    display_name: str = Field("", max_length=100)


class PurposeIn(Strict):
    code: str = Field(max_length=32, examples=["follow_up"])
    text: str = Field(max_length=500)


class LookupIn(Strict):
    document: DocumentIn
    purpose: PurposeIn


# ---- responses -------------------------------------------------------------------------------------


def resident_self_view(r: Resident) -> dict[str, Any]:
    """What a resident (or their guardian) sees of their own record: everything, unmasked."""
    doc = r.pii.document
    return {
        "id": r.id,
        "kind": r.kind.value,
        "name": r.pii.name,
        "document": {"type": doc.type.value, "number": doc.number, "nationality": doc.nationality},
        "phone": r.pii.phone,
        "address": r.pii.address,
        "birth_date": r.birth_date.isoformat() if r.birth_date else None,
        "region_code": r.region_code,
        "active": r.active,
    }


def resident_masked_view(r: Resident) -> dict[str, Any]:
    """What staff listings show: masked name, document and phone."""
    doc = r.pii.document
    return {
        "id": r.id,
        "kind": r.kind.value,
        "name": mask_name(r.pii.name),
        "document": {"type": doc.type.value, "number": mask_document(doc.number)},
        "phone": mask_phone(local_part(r.pii.phone)) if r.pii.phone else None,
        "region_code": r.region_code,
    }


def related_view(r: Resident, link: Guardianship, *, masked: bool) -> dict[str, Any]:
    view = resident_masked_view(r) if masked else resident_self_view(r)
    return {**view, "relation": link.relation, "since": link.created_at.isoformat()}


def declaration_view(d: Declaration) -> dict[str, Any]:
    return {
        "id": d.id,
        "subject_id": d.subject_id,
        "form_key": d.form_key,
        "form_version": d.form_version,
        "answers": d.answers,
        "submitted_at": d.submitted_at.isoformat(),
        "submitted_by": d.submitted_by,
        "by_proxy": d.by_proxy,
    }


def form_view(f: FormVersion) -> dict[str, Any]:
    return {**f.as_document(), "published_at": f.published_at.isoformat()}


def staff_view(m: StaffMember) -> dict[str, Any]:
    return {
        "id": m.id,
        "username": m.username,
        "display_name": m.display_name,
        "role": m.role.value,
        "jurisdiction": m.jurisdiction,
        "active": m.active,
    }


def access_view(a: AccessRecord) -> dict[str, Any]:
    return {
        "id": a.id,
        "at": a.at.isoformat(),
        "staff_id": a.staff_id,
        "resident_id": a.resident_id,
        "action": a.action,
        "purpose": {"code": a.purpose.code.value, "text": a.purpose.text},
        "fields": list(a.fields),
    }


def region_view(r: Region) -> dict[str, Any]:
    return {
        "code": r.code,
        "parent": r.parent,
        "level": r.level.value,
        "name_zh": r.name_zh,
        "name_en": r.name_en,
    }


def token_view(token: str, expires_at: datetime) -> dict[str, Any]:
    return {"access_token": token, "token_type": "bearer", "expires_at": expires_at.isoformat()}


class TokenIn(Strict):
    token: str = Field(min_length=1, max_length=2048, examples=["CP1:..."])


class CheckpointScanIn(TokenIn):
    """A checkpoint scan: the resident's code, and the venue or vehicle the checkpoint is bound to."""

    venue_id: str | None = Field(None, max_length=36)
    client_id: str | None = Field(
        None, min_length=8, max_length=64, description="makes a retried scan record once"
    )
    direction: Literal["board", "alight"] | None = None


class LocationIn(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CheckInIn(Strict):
    venue_code: str = Field(min_length=1, max_length=2048)
    client_id: str = Field(min_length=8, max_length=64, description="a random id per scan, reused on retries")
    scanned_at: Instant
    location: LocationIn | None = None
    subject_id: str | None = Field(None, max_length=36, description="a dependent's id")
    direction: Literal["board", "alight"] | None = None


class VenueIn(Strict):
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32, examples=["restaurant", "bus"])
    region_code: str = Field(max_length=6)
    location: LocationIn | None = None


class FactIn(Strict):
    subject_id: str = Field(max_length=36)
    kind: str = Field(max_length=40, examples=["close_contact"])
    data: dict[str, Any] = {}
    effective_at: Instant | None = None
    expires_at: Instant | None = None
    note: str = Field("", max_length=500)


class RejectIn(Strict):
    note: str = Field(min_length=4, max_length=500)


class RiskAreaIn(Strict):
    region_code: str = Field(max_length=6)
    level: str = Field(max_length=10, examples=["medium"])
    valid_from: Instant
    valid_to: Instant | None = None


class TextIn(Strict):
    en: str = Field(max_length=500)
    zh_cn: str = Field(alias="zh-CN", max_length=500)


class RuleIn(Strict):
    """One rule container (EU DCC business-rule style); ``logic`` is a CertLogic expression."""

    identifier: str = Field(max_length=80)
    version: str = Field(max_length=20)
    valid_from: str = Field(max_length=40)
    valid_to: str | None = Field(None, max_length=40)
    description: TextIn
    logic: Any
    color: str = Field(max_length=20)
    reason_code: str = Field(max_length=60)
    release: TextIn | None = None
    source: str = Field("", max_length=500)


class RuleSetIn(Strict):
    """A rule-set document: identifier, name, ranked colors, parameters and rule containers."""

    identifier: str = Field(max_length=80)
    name: TextIn
    colors: list[str] = Field(default=["green", "yellow", "red"], min_length=1, max_length=10)
    parameters: dict[str, Any] = {}
    rules: list[RuleIn] = Field(min_length=1, max_length=500)

    def document(self) -> dict[str, Any]:
        """The document as stored and signed (texts keyed zh-CN and en, as the rules read them)."""
        return self.model_dump(by_alias=True)


def status_view(status: StoredStatus, zone: tzinfo, lang: str) -> dict[str, Any]:
    """A status with its reasons in both languages, a summary in the asked one, and local times."""
    key = "zh-CN" if lang == "zh" else "en"
    return {
        "subject_id": status.subject_id,
        "color": status.color,
        "version": status.version,
        "summary": [r["text"][key] for r in status.reasons] or [GREEN_SUMMARY[key]],
        "reasons": status.reasons,
        "release": [r["release"] for r in status.reasons if r.get("release")],
        "ruleset_version": status.ruleset_version,
        "evaluated_at": status.evaluated_at.isoformat(),
        "evaluated_at_local": status.evaluated_at.astimezone(zone).isoformat(),
        "review_at": status.review_at.isoformat(),
        "inputs_digest": status.inputs_digest,
    }


GREEN_SUMMARY = {"en": "green: no rule applies", "zh-CN": "绿码：未命中任何赋码规则"}


def fact_view(fact: Fact) -> dict[str, Any]:
    return {
        "id": fact.id,
        "subject_id": fact.subject_id,
        "kind": fact.kind.value,
        "data": dict(fact.data),
        "source": fact.source.value,
        "authority": fact.authority,
        "effective_at": fact.effective_at.isoformat(),
        "expires_at": fact.expires_at.isoformat() if fact.expires_at else None,
        "state": fact.state.value,
        "proposed_by": fact.proposed_by,
        "decided_by": fact.decided_by,
        "note": fact.note,
    }


def ruleset_view(version: RuleSetVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "state": version.state.value,
        "identifier": version.ruleset.identifier,
        "proposed_by": version.proposed_by,
        "approved_by": version.approved_by,
        "approved_at": version.approved_at.isoformat() if version.approved_at else None,
        "rules": len(version.ruleset.rules),
    }


def checkin_view(c: CheckIn) -> dict[str, Any]:
    return {
        "id": c.id,
        "client_id": c.client_id,
        "resident_id": c.resident_id,
        "venue_id": c.venue_id,
        "at": c.at.isoformat(),
        "method": c.method.value,
        "evidence": c.evidence.value,
        "flags": [f.value for f in c.flags],
        "direction": c.direction.value if c.direction else None,
    }


def venue_view(v: Venue) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "kind": v.kind.value,
        "vehicle": v.is_vehicle,
        "region_code": v.region_code,
        "location": {"lat": v.lat, "lon": v.lon} if v.lat is not None and v.lon is not None else None,
        "active": v.active,
    }
