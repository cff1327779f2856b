"""Issuing and verifying health codes (GB/T 38963: code generation, code verification).

A code is issued from the resident's current status, so its color is always the engine's. Verifying
offline needs only the signed trust list; verifying online (checkpoint staff) also asks for the current
status, and a change since the code was issued wins over what the code says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from civicpass.domain.access import AccessRecord, Purpose, StatedPurpose
from civicpass.domain.checkins import Direction
from civicpass.domain.codes import CodeClaims, CodeKind, Verification
from civicpass.domain.errors import FieldError, InvalidInput, Message, NotFound
from civicpass.domain.masking import mask_name
from civicpass.domain.policy import Action, ResidentActor, StaffActor, authorize
from civicpass.domain.trustlist import IssuerKey, TrustList
from civicpass.services import access, status
from civicpass.services.checkins import record_checkpoint_scan
from civicpass.services.context import Deps
from civicpass.services.trust import longest_code, own_trust_list


@dataclass(frozen=True)
class IssuedCode:
    token: str
    claims: CodeClaims
    refresh_after_seconds: int
    masked_name: str
    """The holder's masked name (张*三), for printed offline codes."""


def issue(
    deps: Deps, actor: ResidentActor, subject_id: str, *, offline_days: int | None = None
) -> IssuedCode:
    """A code for the actor or a dependent: dynamic (minutes), proxy (a dependent's), or offline (days)."""
    current = status.current(deps, actor, subject_id)
    now = deps.clock.now()
    if offline_days is not None and not 1 <= offline_days <= 7:
        raise InvalidInput(
            "offline_days_invalid",
            Message("an offline code is valid for 1 to 7 days", "离线码有效期为1至7天"),
            errors=[FieldError(("days",), "offline_days_invalid", "1 to 7")],
        )
    with deps.uow() as uow:
        resident = uow.residents.get(subject_id)
        if resident is None:
            raise NotFound("resident_not_found", Message("no such resident", "居民不存在"))
        subject = resident.code_subject
        if subject is None:
            subject = deps.random.token()[:22]  # 132 random bits keep the code short
            uow.residents.set_code_subject(resident.id, subject)
            uow.commit()
    if offline_days is not None:
        kind, lifetime = CodeKind.OFFLINE, timedelta(days=offline_days)
    else:
        kind = CodeKind.DYNAMIC if subject_id == actor.id else CodeKind.PROXY
        lifetime = timedelta(seconds=deps.limits.code_ttl_seconds)
    claims = CodeClaims(
        issuer=deps.issuer.id,
        subject=subject,
        issued_at=now.replace(microsecond=0),
        expires_at=(now + lifetime).replace(microsecond=0),
        nonce=deps.random.nonce(),
        color=current.color,
        status_version=current.version,
        kind=kind,
    )
    token = deps.codec.issue(claims, deps.keystore.active(now))
    refresh = max(int(lifetime.total_seconds()) - 30, int(lifetime.total_seconds()) // 2)
    return IssuedCode(token, claims, refresh, mask_name(resident.pii.name))


def verify_offline(deps: Deps, token: str, trust_list: TrustList | None = None) -> Verification:
    """What any verifier can tell from the code and the trust list alone."""
    skew = timedelta(seconds=deps.limits.code_skew_seconds)
    return deps.codec.verify(token.strip(), trust_list or own_trust_list(deps), deps.clock.now(), skew)


@dataclass(frozen=True)
class OnlineVerification:
    verification: Verification
    masked_name: str | None
    current_color: str | None
    changed_since_issue: bool


def verify_online(
    deps: Deps,
    actor: StaffActor,
    token: str,
    *,
    venue_id: str | None = None,
    client_id: str | None = None,
    direction: Direction | None = None,
) -> OnlineVerification:
    """The GB/T 38963 "verify code" call: the offline checks, then the current status and a masked name.

    A status that changed since the code was issued wins: the answer carries the current color. The read
    of the (masked) name is written to the access log, so residents can see which checkpoints scanned them.
    A checkpoint bound to a venue or vehicle (``venue_id``) also records a strong-evidence check-in.
    """
    authorize(actor, Action.CODE_VERIFY).enforce()
    offline = verify_offline(deps, token)
    if not offline.valid or offline.claims is None or offline.claims.issuer != deps.issuer.id:
        return OnlineVerification(offline, None, None, False)
    with deps.uow() as uow:
        resident = uow.residents.by_code_subject(offline.claims.subject)
    if resident is None or not resident.active:
        return OnlineVerification(offline, None, None, False)
    current = status.fresh(deps, resident.id)
    changed = current.version != offline.claims.status_version or current.color != offline.color
    with deps.uow() as uow:
        access.record(
            uow,
            deps,
            AccessRecord(
                id=deps.random.new_id(),
                at=deps.clock.now(),
                staff_id=actor.id,
                resident_id=resident.id,
                resident_region=resident.region_code,
                action=Action.CODE_VERIFY.value,
                purpose=StatedPurpose(Purpose.CODE_VERIFICATION, "checkpoint scan"),
                fields=("masked_name", "status"),
            ),
        )
        if venue_id is not None:
            record_checkpoint_scan(
                uow, deps, actor, resident.id, venue_id, client_id or deps.random.new_id(), direction
            )
        uow.commit()
    answer = replace(offline, color=current.color) if changed else offline
    return OnlineVerification(answer, mask_name(resident.pii.name), current.color, changed)


def rotate_key(deps: Deps, alg: str = "EdDSA") -> IssuerKey:
    """A new signing key; the old one retires but verifies its codes until they can have expired."""
    key = deps.keystore.rotate(deps.clock.now(), longest_code(deps), alg)
    _key_event(deps, "key:issuer:rotated", key)
    return key


def revoke_key(deps: Deps, kid: str) -> IssuerKey:
    """A compromised key: online verification refuses it at once, offline after the next trust list."""
    key = deps.keystore.revoke(kid, deps.clock.now())
    _key_event(deps, "key:issuer:revoked", key)
    return key


def _key_event(deps: Deps, name: str, key: IssuerKey) -> None:
    with deps.uow() as uow:
        uow.events.add(name, {"kid": key.kid, "alg": key.alg, "status": key.status.value}, deps.clock.now())
        uow.commit()
