"""Issuing and verifying codes as use cases (services/codes.py) over fakes, and the file keystore on disk.

The fakes carry the real codec and the keystore's real logic (sealing, rotation, revocation) in memory; the
fake clock starts at 2022-05-03T08:00Z. The last section runs ``FileKeyStore`` on a real file.
"""

from __future__ import annotations

import base64
import json
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from civicpass.adapters.crypto.keystore import FileKeyStore
from civicpass.adapters.crypto.signing import verify_document
from civicpass.adapters.files import bundled_forms, bundled_ruleset
from civicpass.domain.access import Purpose
from civicpass.domain.codes import CodeKind, Rejection
from civicpass.domain.errors import InvalidInput, PermissionDenied
from civicpass.domain.identity import Document, DocumentType
from civicpass.domain.policy import ResidentActor, StaffActor
from civicpass.domain.residents import Resident, ResidentKind
from civicpass.domain.staff import Role
from civicpass.domain.trustlist import KeyStatus, TrustList
from civicpass.domain.venues import STATIC_CODE_LIFETIME
from civicpass.services import codes, declarations, rulesets, trust
from civicpass.services.context import Deps
from civicpass.services.declarations import Submission
from tests.fakes import FakeClock, FakeStore, fake_deps, make_resident

ME, KID, OTHER = "r-1", "r-2", "r-3"
ME_ACTOR = ResidentActor(ME)
GUARDIAN = ResidentActor(ME, frozenset({KID}))
CHECKPOINT = StaffActor("s-checkpoint", Role.CHECKPOINT_OPERATOR, "440100")
PERMITTED = (Role.CHECKPOINT_OPERATOR, Role.CDC, Role.COMMUNITY_WORKER)
NO_CONTACTS = {
    "confirmed_case": False,
    "suspected_case": False,
    "high_risk_area_visitor": False,
    "fever_cluster": False,
}
FEVER = {"temperature_c": 38.3, "symptoms": ["fever", "cough"], "contact_history": NO_CONTACTS}
SEVEN_DAYS_AND_SKEW = timedelta(days=7, seconds=30)
LONGEST_CODE = STATIC_CODE_LIFETIME + timedelta(seconds=30)
"""A printed static venue code lives for years, so a retired key stays listed that long (plus skew)."""


def _resident(resident_id: str, name: str, kind: ResidentKind = ResidentKind.SELF) -> Resident:
    phone = None if kind is ResidentKind.DEPENDENT else "+86138001380" + resident_id[-1].zfill(2)
    document = Document(DocumentType.PASSPORT, "E9900" + resident_id[-1])
    return make_resident(resident_id, phone=phone, kind=kind, name=name, document=document)


@dataclass
class World:
    deps: Deps
    store: FakeStore
    clock: FakeClock

    def code(self, subject: str = ME, actor: ResidentActor = GUARDIAN, **kwargs: Any) -> codes.IssuedCode:
        return codes.issue(self.deps, actor, subject, **kwargs)

    def declare_fever(self, subject: str = ME) -> None:
        declarations.submit(
            self.deps, ResidentActor(subject), Submission(subject, "health", None, FEVER), None
        )

    def active_kid(self) -> str:
        return self.deps.keystore.active(self.clock.now()).kid


@pytest.fixture
def world() -> World:
    deps, store, _, clock = fake_deps()
    rulesets.install_bundled(deps, bundled_ruleset())
    declarations.sync_forms(deps, bundled_forms())
    store.residents[ME] = _resident(ME, "张小三")
    store.residents[KID] = _resident(KID, "张小宝", ResidentKind.DEPENDENT)
    store.residents[OTHER] = _resident(OTHER, "李四")
    return World(deps, store, clock)


# -- issuing ---------------------------------------------------------------------------------------


def test_a_residents_own_code_is_dynamic_for_120_seconds_and_verifies_with_high_assurance(
    world: World,
) -> None:
    issued = world.code(actor=ME_ACTOR)
    c = issued.claims
    assert issued.token.startswith("CP1:")
    assert (c.kind, c.issuer, c.color, c.status_version) == (CodeKind.DYNAMIC, "CN-TEST", "green", 1)
    assert c.issued_at == world.clock.now()
    assert c.expires_at - c.issued_at == timedelta(seconds=120)
    assert issued.refresh_after_seconds == 90
    result = codes.verify_offline(world.deps, issued.token)
    assert result.valid, result.reasons
    assert (result.assurance, result.color, result.claims) == ("high", "green", c)


def test_a_guardian_gets_a_proxy_code_for_a_dependent_with_medium_assurance(world: World) -> None:
    issued = world.code(KID)
    assert issued.claims.kind is CodeKind.PROXY
    assert issued.claims.subject != world.code(ME).claims.subject
    assert codes.verify_offline(world.deps, issued.token).assurance == "medium"


def test_nobody_gets_a_code_for_someone_who_is_not_their_dependent(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.code(KID, actor=ResidentActor(OTHER))
    with pytest.raises(PermissionDenied):
        world.code(ME, actor=ResidentActor(OTHER))
    assert world.store.residents[ME].code_subject is None


@pytest.mark.parametrize("days", range(1, 8))
def test_an_offline_code_is_valid_for_the_days_asked_and_low_assurance(world: World, days: int) -> None:
    issued = world.code(offline_days=days)
    c = issued.claims
    assert (c.kind, c.expires_at - c.issued_at) == (CodeKind.OFFLINE, timedelta(days=days))
    world.clock.advance(days=days, seconds=-1)
    # The trust list is fetched now; a fresh one, as an online verifier would have.
    result = codes.verify_offline(world.deps, issued.token)
    assert (result.valid, result.assurance) == (True, "low")
    world.clock.advance(seconds=31)
    assert codes.verify_offline(world.deps, issued.token).reasons == (Rejection.EXPIRED,)


@pytest.mark.parametrize("days", [0, 8, -1])
def test_an_offline_code_outside_one_to_seven_days_is_refused(world: World, days: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        world.code(offline_days=days)
    assert raised.value.reason == "offline_days_invalid"
    assert [e.as_dict()["path"] for e in raised.value.errors] == ["/days"]


def test_a_code_carries_the_residents_current_color_and_status_version(world: World) -> None:
    assert (world.code().claims.color, world.code().claims.status_version) == ("green", 1)
    world.declare_fever()
    after = world.code().claims
    assert (after.color, after.status_version) == ("yellow", 2)
    # The dependent's status is their own.
    assert world.code(KID).claims.color == "green"


def test_the_code_subject_is_random_stable_and_no_other_identifier(world: World) -> None:
    first = world.code().claims
    again = world.code().claims
    offline = world.code(offline_days=3).claims
    other = world.code(OTHER, actor=ResidentActor(OTHER)).claims
    resident = world.store.residents[ME]
    assert first.subject == again.subject == offline.subject == resident.code_subject
    assert other.subject != first.subject
    assert first.nonce != again.nonce
    identifiers = [
        resident.id,
        resident.pseudonym,
        resident.pii.document.number,
        resident.pii.phone,
        "张小三",
    ]
    assert all(str(i) not in first.subject and first.subject not in str(i) for i in identifiers)
    assert len(first.subject) <= 22


# -- rotation --------------------------------------------------------------------------------------


def test_after_rotation_new_codes_use_the_new_key_and_earlier_codes_still_verify(world: World) -> None:
    before = world.code(offline_days=7)
    old_kid = world.active_kid()
    world.clock.advance(minutes=5)
    new_key = codes.rotate_key(world.deps)
    assert new_key.kid != old_kid
    assert new_key.status is KeyStatus.ACTIVE
    after = world.code()
    assert codes.verify_offline(world.deps, after.token).kid == new_key.kid
    old = codes.verify_offline(world.deps, before.token)
    assert (old.valid, old.kid) == (True, old_kid)
    # Still good on the offline code's last day, because its key stays listed that long.
    world.clock.current = before.claims.expires_at - timedelta(minutes=1)
    assert codes.verify_offline(world.deps, before.token).valid
    assert (
        "key:issuer:rotated",
        {"kid": new_key.kid, "alg": "EdDSA", "status": "active"},
    ) in world.store.events


def test_an_es256_rotation_signs_with_p256(world: World) -> None:
    world.code()
    key = codes.rotate_key(world.deps, "ES256")
    assert (key.alg, key.jwk["kty"], key.jwk["crv"]) == ("ES256", "EC", "P-256")
    result = codes.verify_offline(world.deps, world.code().token)
    assert (result.valid, result.kid) == (True, key.kid)


def test_a_retired_key_stays_in_the_trust_list_until_its_last_code_can_have_expired(world: World) -> None:
    world.code()
    old_kid = world.active_kid()
    rotated_at = world.clock.now()
    new_kid = codes.rotate_key(world.deps).kid

    def listed() -> dict[str, KeyStatus]:
        return {k.kid: k.status for k in trust.own_trust_list(world.deps).issuers[0].keys}

    assert listed() == {old_kid: KeyStatus.RETIRED, new_kid: KeyStatus.ACTIVE}
    retired = next(k for k in trust.own_trust_list(world.deps).issuers[0].keys if k.kid == old_kid)
    assert retired.not_after == rotated_at + LONGEST_CODE
    world.clock.current = rotated_at + LONGEST_CODE - timedelta(seconds=1)
    assert old_kid in listed()
    world.clock.current = rotated_at + LONGEST_CODE
    assert listed() == {new_kid: KeyStatus.ACTIVE}


# -- revocation ------------------------------------------------------------------------------------


def test_offline_verifiers_learn_of_a_revocation_at_their_next_trust_list(world: World) -> None:
    token = world.code(offline_days=3).token
    kid = world.active_kid()
    cached = trust.own_trust_list(world.deps)
    world.clock.advance(minutes=10)
    revoked = codes.revoke_key(world.deps, kid)
    assert revoked.status is KeyStatus.REVOKED
    # A verifier still on the list it fetched before accepts the code ...
    assert codes.verify_offline(world.deps, token, cached).valid
    # ... and refuses it once it refreshes.
    fresh = codes.verify_offline(world.deps, token, trust.own_trust_list(world.deps))
    assert fresh.reasons == (Rejection.REVOKED_KEY,)
    assert ("key:issuer:revoked", {"kid": kid, "alg": "EdDSA", "status": "revoked"}) in world.store.events


def test_online_verification_refuses_a_revoked_key_at_once(world: World) -> None:
    token = world.code().token
    codes.revoke_key(world.deps, world.active_kid())
    online = codes.verify_online(world.deps, CHECKPOINT, token)
    assert online.verification.reasons == (Rejection.REVOKED_KEY,)
    assert (online.masked_name, online.current_color) == (None, None)
    assert world.store.access_log == []


def test_a_revoked_key_stays_listed_as_revoked_and_a_new_key_signs(world: World) -> None:
    world.code()
    kid = world.active_kid()
    codes.revoke_key(world.deps, kid)
    world.clock.advance(days=30)
    keys = {k.kid: k.status for k in trust.own_trust_list(world.deps).issuers[0].keys}
    assert keys == {kid: KeyStatus.REVOKED}
    fresh = world.code()
    assert codes.verify_offline(world.deps, fresh.token).valid
    assert world.active_kid() != kid


def test_an_offline_verifier_refuses_an_expired_trust_list(world: World) -> None:
    token = world.code(offline_days=3).token
    cached = trust.own_trust_list(world.deps)
    world.clock.advance(hours=24)
    assert codes.verify_offline(world.deps, token, cached).reasons == (Rejection.TRUST_LIST_EXPIRED,)
    assert codes.verify_offline(world.deps, token).valid


# -- online verification ---------------------------------------------------------------------------


def test_online_verification_gives_the_masked_name_and_logs_the_read(world: World) -> None:
    token = world.code().token
    online = codes.verify_online(world.deps, CHECKPOINT, token)
    assert online.verification.valid
    assert (online.masked_name, online.current_color, online.changed_since_issue) == ("张*三", "green", False)
    codes.verify_online(world.deps, CHECKPOINT, token)
    records = world.store.access_log
    assert len(records) == 2
    record = records[0]
    assert (record.staff_id, record.resident_id, record.resident_region) == ("s-checkpoint", ME, "440106")
    assert (record.action, record.purpose.code, record.fields) == (
        "code:verify_online",
        Purpose.CODE_VERIFICATION,
        ("masked_name", "status"),
    )
    assert record.at == world.clock.now()


def test_a_dependents_proxy_code_names_the_dependent_online(world: World) -> None:
    online = codes.verify_online(world.deps, CHECKPOINT, world.code(KID).token)
    assert (online.masked_name, online.verification.assurance) == ("张*宝", "medium")
    assert [r.resident_id for r in world.store.access_log] == [KID]


def test_a_status_change_since_issue_wins_online_but_not_offline(world: World) -> None:
    token = world.code().token
    world.clock.advance(seconds=20)
    world.declare_fever()
    online = codes.verify_online(world.deps, CHECKPOINT, token)
    assert online.verification.valid
    assert (online.verification.color, online.current_color, online.changed_since_issue) == (
        "yellow",
        "yellow",
        True,
    )
    assert online.verification.claims is not None
    assert online.verification.claims.color == "green"
    assert codes.verify_offline(world.deps, token).color == "green"


def test_an_invalid_code_online_reveals_no_name_and_logs_nothing(world: World) -> None:
    token = world.code().token
    world.clock.advance(minutes=5)
    online = codes.verify_online(world.deps, CHECKPOINT, token)
    assert online.verification.reasons == (Rejection.EXPIRED,)
    assert online.masked_name is None
    assert world.store.access_log == []


@pytest.mark.parametrize("role", PERMITTED)
def test_checkpoint_cdc_and_community_staff_may_verify_online(world: World, role: Role) -> None:
    online = codes.verify_online(world.deps, StaffActor("s-1", role, "440100"), world.code().token)
    assert online.verification.valid


@pytest.mark.parametrize("role", [r for r in Role if r not in PERMITTED])
def test_other_staff_roles_may_not_verify_online(world: World, role: Role) -> None:
    token = world.code().token
    with pytest.raises(PermissionDenied) as raised:
        codes.verify_online(world.deps, StaffActor("s-1", role, "440100"), token)
    assert raised.value.extra["reasons"] == ["role_not_permitted"]
    assert world.store.access_log == []


# -- the trust list --------------------------------------------------------------------------------


def test_the_signed_trust_list_verifies_and_lists_the_active_key_as_a_jwk(world: World) -> None:
    world.code()
    signed = trust.signed_trust_list(world.deps)
    document = signed["trust_list"]
    assert verify_document(signed["public_key"], document, signed["signature"])
    assert signed["key_id"] == world.deps.signer.key_id
    tampered = json.loads(json.dumps(document))
    tampered["expires_at"] = "2099-01-01T00:00:00+00:00"
    assert not verify_document(signed["public_key"], tampered, signed["signature"])

    trust_list = TrustList.from_document(document)
    assert trust_list.version == world.deps.keystore.generation == 1
    assert trust_list.expires_at - trust_list.issued_at == timedelta(hours=24)
    (issuer,) = document["issuers"]
    assert (issuer["id"], issuer["colors"]) == (
        "CN-TEST",
        {"green": "green", "yellow": "yellow", "red": "red"},
    )
    (key,) = issuer["keys"]
    assert key["kid"] == world.active_kid()
    assert (key["kty"], key["crv"], key["alg"], key["status"], key["not_after"]) == (
        "OKP",
        "Ed25519",
        "EdDSA",
        "active",
        None,
    )
    assert "d" not in key  # the public half only


def test_the_trust_list_version_grows_with_every_key_change(world: World) -> None:
    world.code()
    versions = [trust.own_trust_list(world.deps).version]
    codes.rotate_key(world.deps)
    versions.append(trust.own_trust_list(world.deps).version)
    codes.revoke_key(world.deps, world.active_kid())
    versions.append(trust.own_trust_list(world.deps).version)
    assert versions == [1, 2, 3]


# -- the file keystore -----------------------------------------------------------------------------

KEK = b"\x07" * 32
NOW = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)


def _encodings(data: bytes) -> list[bytes]:
    return [
        data,
        data.hex().encode(),
        base64.b64encode(data).rstrip(b"="),
        base64.urlsafe_b64encode(data).rstrip(b"="),
    ]


def test_the_keystore_file_never_holds_a_private_key_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "codes.json"
    store = FileKeyStore(path, KEK)
    handle = store.active(NOW)
    # For Ed25519 the handle signs with the private key's own bound method.
    private = handle.sign.__self__  # type: ignore[attr-defined]
    assert isinstance(private, Ed25519PrivateKey)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    content = path.read_bytes()
    for secret in (raw, pkcs8):
        for encoded in _encodings(secret):
            assert encoded not in content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # And the sealed key is useless without the key-encryption key.
    with pytest.raises(InvalidTag):
        FileKeyStore(path, b"\x08" * 32).active(NOW)


def test_a_second_keystore_on_the_same_file_sees_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "codes.json"
    server = FileKeyStore(path, KEK)
    first = server.active(NOW).kid
    assert server.generation == 1
    # Another process (the CLI) rotates the key ...
    rotated = FileKeyStore(path, KEK).rotate(NOW + timedelta(hours=1), SEVEN_DAYS_AND_SKEW)
    # ... and the running server signs with the new key without a restart.
    assert server.active(NOW + timedelta(hours=1)).kid == rotated.kid != first
    assert server.generation == 2
    statuses = {k.kid: k.status for k in server.issuer_keys()}
    assert statuses == {first: KeyStatus.RETIRED, rotated.kid: KeyStatus.ACTIVE}


def test_the_generation_grows_by_one_with_every_change_and_survives_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "codes.json"
    store = FileKeyStore(path, KEK)
    assert store.generation == 0
    kid = store.active(NOW).kid
    store.active(NOW)  # reading the active key is not a change
    assert store.generation == 1
    store.rotate(NOW, SEVEN_DAYS_AND_SKEW, "ES256")
    assert store.generation == 2
    store.revoke(kid, NOW)
    assert store.generation == 3
    reloaded = FileKeyStore(path, KEK)
    assert reloaded.generation == 3
    assert {k.kid: k.status for k in reloaded.issuer_keys()}[kid] is KeyStatus.REVOKED
    assert reloaded.active(NOW).alg == "ES256"


def test_codes_in_a_color_the_active_rule_set_defines_verify_on_this_instance() -> None:
    deps, store, _, _ = fake_deps()
    document = json.loads(json.dumps(bundled_ruleset()).replace('"yellow"', '"orange"'))
    assert document["colors"] == ["green", "orange", "red"]
    rulesets.install_bundled(deps, document)
    declarations.sync_forms(deps, bundled_forms())
    # No phone: the status notification has its own problem with new colors (services/status.py _ZH).
    store.residents[ME] = _resident(ME, "张小宝", ResidentKind.DEPENDENT)
    declarations.submit(deps, ME_ACTOR, Submission(ME, "health", None, FEVER), None)
    issued = codes.issue(deps, ME_ACTOR, ME)
    assert issued.claims.color == "orange"
    result = codes.verify_offline(deps, issued.token)
    assert (result.valid, result.color) == (True, "orange")
