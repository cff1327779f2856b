"""Verifying a code against a hand-built trust list: every rejection has its own reason code.

``CoseCodeCodec.verify(token, trust_list, now, skew)`` is a pure function, so each case below crafts one
faulty input with real keys (Ed25519 and P-256) and checks that it is refused for exactly that reason. The
codec layers themselves (Base45, zlib, COSE_Sign1) are covered in test_cose.py; here they are seen from a
verifier's side, through the reason a verifier reports.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from civicpass.adapters.codes import MAX_INFLATED, CoseCodeCodec
from civicpass.adapters.crypto import cose
from civicpass.adapters.crypto.keystore import SigningKey, jwk_of, kid_of
from civicpass.domain.codes import (
    CIVICPASS_CLAIM,
    CTI,
    PREFIX,
    Assurance,
    CodeClaims,
    CodeKind,
    Rejection,
    Verification,
)
from civicpass.domain.trustlist import Issuer, IssuerKey, KeyStatus, TrustList

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey

NOW = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
SKEW = timedelta(seconds=30)
HOME, PEER = "CN-HOME", "CN-PEER"
IDENTITY = {"green": "green", "yellow": "yellow", "red": "red"}
ED = Ed25519PrivateKey.from_private_bytes(b"\x11" * 32)
P256 = ec.derive_private_key(0xC0DE, ec.SECP256R1())
STRANGER = Ed25519PrivateKey.from_private_bytes(b"\x22" * 32)
PEER_KEY = Ed25519PrivateKey.from_private_bytes(b"\x33" * 32)
CODEC = CoseCodeCodec()


def handle(private: PrivateKey) -> SigningKey:
    alg = cose.alg_for(private)
    return SigningKey(
        kid_of(private), "EdDSA" if alg == cose.ALG_EDDSA else "ES256", alg, cose.signer_for(private)
    )


def issuer_key(
    private: PrivateKey,
    status: KeyStatus = KeyStatus.ACTIVE,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime | None = None,
) -> IssuerKey:
    alg = "EdDSA" if isinstance(private, Ed25519PrivateKey) else "ES256"
    return IssuerKey(kid_of(private), alg, jwk_of(private), status, not_before, not_after)


def issuer(issuer_id: str = HOME, *keys: IssuerKey, colors: dict[str, str] | None = None) -> Issuer:
    names = {"zh-CN": f"{issuer_id} 签发方", "en": f"{issuer_id} issuer"}
    return Issuer(issuer_id, names, "440100", keys or (issuer_key(ED), issuer_key(P256)), colors or IDENTITY)


def trust_list(*issuers: Issuer, expires_at: datetime = NOW + timedelta(hours=24)) -> TrustList:
    return TrustList(7, NOW - timedelta(hours=1), expires_at, issuers or (issuer(),))


def claims(**changes: Any) -> CodeClaims:
    base = CodeClaims(
        issuer=HOME,
        subject="Qm9yaW5nU3ViamVjdElk",
        issued_at=NOW - timedelta(seconds=10),
        expires_at=NOW + timedelta(seconds=110),
        nonce=b"\x5a" * 16,
        color="green",
        status_version=3,
        kind=CodeKind.DYNAMIC,
    )
    return replace(base, **changes)


def issued(private: PrivateKey = ED, **changes: Any) -> str:
    return CODEC.issue(claims(**changes), handle(private))


def signed_payload(payload: bytes, private: PrivateKey = ED) -> str:
    """A correctly signed code around arbitrary payload bytes (for malformed-claims cases)."""
    message = cose.encode_sign1(
        payload, kid=bytes.fromhex(kid_of(private)), alg=cose.alg_for(private), sign=cose.signer_for(private)
    )
    return cose.encode_text(message, PREFIX)


def verify(token: str, tl: TrustList | None = None, now: datetime = NOW) -> Verification:
    return CODEC.verify(token, tl or trust_list(), now, SKEW)


def refused_for(result: Verification, reason: Rejection) -> None:
    assert not result.valid
    assert result.reasons == (reason,), result.reasons
    assert result.color is None
    assert result.assurance is None
    assert result.as_dict()["reasons"] == [reason.value]


# -- the good path ----------------------------------------------------------------------------------


@pytest.mark.parametrize("private", [ED, P256], ids=["EdDSA", "ES256"])
def test_a_code_signed_by_a_listed_key_is_valid_with_its_color_issuer_and_kid(private: PrivateKey) -> None:
    result = verify(issued(private, color="yellow"))
    assert result.valid
    assert result.reasons == ()
    assert result.color == "yellow"
    assert result.kid == kid_of(private)
    assert result.issuer_name == {"zh-CN": "CN-HOME 签发方", "en": "CN-HOME issuer"}
    assert result.claims == claims(color="yellow")
    view = result.as_dict()
    assert (view["valid"], view["issuer"], view["kind"], view["status_version"]) == (True, HOME, "dynamic", 3)


def test_an_es256_code_carries_a_raw_64_byte_signature_and_alg_minus_7() -> None:
    sign1 = cose.decode_sign1(cose.decode_text(issued(P256), PREFIX))
    assert (sign1.alg, len(sign1.signature)) == (cose.ALG_ES256, 64)


@pytest.mark.parametrize(
    ("kind", "assurance"),
    [
        (CodeKind.DYNAMIC, Assurance.HIGH),
        (CodeKind.PROXY, Assurance.MEDIUM),
        (CodeKind.OFFLINE, Assurance.LOW),
    ],
)
def test_assurance_follows_the_kind_of_code(kind: CodeKind, assurance: Assurance) -> None:
    result = verify(issued(kind=kind, expires_at=NOW + timedelta(days=3)))
    assert result.valid
    assert result.assurance is assurance
    assert result.as_dict()["assurance"] == assurance.value


def test_an_offline_code_is_marked_low_assurance_even_when_everything_else_is_perfect() -> None:
    result = verify(issued(P256, kind=CodeKind.OFFLINE, expires_at=NOW + timedelta(days=7)))
    assert (result.valid, result.as_dict()["assurance"], result.as_dict()["kind"]) == (True, "low", "offline")


def test_a_peer_issuers_color_is_translated_through_its_table() -> None:
    peer = issuer(PEER, issuer_key(PEER_KEY), colors={"green": "green", "orange": "yellow", "red": "red"})
    result = verify(issued(PEER_KEY, issuer=PEER, color="orange"), trust_list(issuer(), peer))
    assert result.valid
    assert result.color == "yellow"
    assert result.claims is not None
    assert result.claims.color == "orange"
    assert result.issuer_name["en"] == "CN-PEER issuer"


def test_a_color_missing_from_the_issuers_table_is_refused_as_malformed_claims() -> None:
    refused_for(verify(issued(color="purple")), Rejection.MALFORMED_CLAIMS)
    # 'orange' is a peer's color; our own identity table does not know it.
    refused_for(verify(issued(color="orange")), Rejection.MALFORMED_CLAIMS)


# -- the text layers --------------------------------------------------------------------------------


def test_a_different_prefix_is_bad_prefix() -> None:
    token = issued()
    refused_for(verify("HC1:" + token.removeprefix(PREFIX)), Rejection.BAD_PREFIX)
    refused_for(verify(token.removeprefix(PREFIX)), Rejection.BAD_PREFIX)
    refused_for(verify(token.lower()), Rejection.BAD_PREFIX)


def test_characters_outside_the_base45_alphabet_are_bad_base45() -> None:
    token = issued()
    refused_for(verify(token[:10] + "a" + token[11:]), Rejection.BAD_BASE45)
    refused_for(verify(token[:10] + "_" + token[11:]), Rejection.BAD_BASE45)
    # 3k+1 characters cannot be Base45 (RFC 9285 §4.2).
    refused_for(verify(PREFIX + "0000"), Rejection.BAD_BASE45)


def test_base45_that_is_not_a_zlib_stream_fails_decompression() -> None:
    refused_for(verify(PREFIX + cose.b45encode(b"no zlib stream here")), Rejection.DECOMPRESSION_FAILED)


def test_a_zlib_bomb_is_refused_without_inflating_it() -> None:
    bomb = zlib.compress(b"\x00" * 50_000_000, 9)
    assert len(bomb) < 60_000
    refused_for(verify(PREFIX + cose.b45encode(bomb)), Rejection.DECOMPRESSION_BOMB)


def test_the_bomb_limit_is_exact_at_max_inflated() -> None:
    at_limit = PREFIX + cose.b45encode(zlib.compress(b"\x00" * MAX_INFLATED))
    over = PREFIX + cose.b45encode(zlib.compress(b"\x00" * (MAX_INFLATED + 1)))
    # At the limit it inflates and fails later (zero bytes are not a COSE message); one more is a bomb.
    refused_for(verify(at_limit), Rejection.MALFORMED_COSE)
    refused_for(verify(over), Rejection.DECOMPRESSION_BOMB)


# -- the COSE and CBOR layers -----------------------------------------------------------------------


def test_random_bytes_in_place_of_a_cose_message_are_malformed_cose() -> None:
    noise = random.Random(20220503).randbytes(96)
    refused_for(verify(cose.encode_text(noise, PREFIX)), Rejection.MALFORMED_COSE)


def test_well_formed_cbor_that_is_not_a_sign1_is_malformed_cose() -> None:
    for item in ("a string", [1, 2, 3], {1: 2}, cbor2.CBORTag(98, [b"", {}, b"", b""])):
        refused_for(verify(cose.encode_text(cbor2.dumps(item), PREFIX)), Rejection.MALFORMED_COSE)


def test_a_signed_payload_that_is_not_a_cbor_map_is_malformed_cbor() -> None:
    refused_for(verify(signed_payload(cbor2.dumps([1, "two", 3]))), Rejection.MALFORMED_CBOR)
    refused_for(verify(signed_payload(b"\xff\x00 not cbor")), Rejection.MALFORMED_CBOR)
    refused_for(verify(signed_payload(cbor2.dumps({1: HOME}) + b"\x00")), Rejection.MALFORMED_CBOR)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda c: c.pop(CTI), id="no-nonce"),
        pytest.param(lambda c: c.pop(CIVICPASS_CLAIM), id="no-private-claim"),
        pytest.param(lambda c: c[CIVICPASS_CLAIM].pop(2), id="no-status-version"),
        pytest.param(lambda c: c[CIVICPASS_CLAIM].update({3: "printed"}), id="unknown-kind"),
        pytest.param(lambda c: c.update({4: "tomorrow"}), id="exp-not-an-int"),
        pytest.param(lambda c: c.update({6: True}), id="iat-a-bool"),
    ],
)
def test_claims_missing_a_field_or_of_the_wrong_type_are_malformed_claims(damage: Any) -> None:
    cwt = claims().to_cwt()
    damage(cwt)
    refused_for(verify(signed_payload(cbor2.dumps(cwt))), Rejection.MALFORMED_CLAIMS)


# -- keys and signatures ----------------------------------------------------------------------------


def test_a_key_not_in_the_trust_list_is_unknown_kid() -> None:
    result = verify(issued(STRANGER))
    refused_for(result, Rejection.UNKNOWN_KID)
    assert result.kid == kid_of(STRANGER)


def test_a_message_without_a_kid_is_unknown_kid() -> None:
    payload = cbor2.dumps(claims().to_cwt())
    protected = cbor2.dumps({cose.HEADER_ALG: cose.ALG_EDDSA})
    signature = ED.sign(cose.sig_structure(protected, payload))
    message = cbor2.dumps(cbor2.CBORTag(cose.TAG_COSE_SIGN1, [protected, {}, payload, signature]))
    result = verify(cose.encode_text(message, PREFIX))
    refused_for(result, Rejection.UNKNOWN_KID)
    assert result.kid is None


def _with_sign1(token: str, change: Any) -> str:
    tagged = cbor2.loads(cose.decode_text(token, PREFIX))
    parts = list(tagged.value)
    change(parts)
    return cose.encode_text(cbor2.dumps(cbor2.CBORTag(cose.TAG_COSE_SIGN1, parts)), PREFIX)


@pytest.mark.parametrize("private", [ED, P256], ids=["EdDSA", "ES256"])
def test_a_tampered_signature_is_bad_signature(private: PrivateKey) -> None:
    def flip_last_byte(parts: list[Any]) -> None:
        parts[3] = parts[3][:-1] + bytes([parts[3][-1] ^ 0x01])

    refused_for(verify(_with_sign1(issued(private), flip_last_byte)), Rejection.BAD_SIGNATURE)


def test_a_red_code_repainted_green_is_bad_signature() -> None:
    green_payload = cbor2.dumps(claims(color="green").to_cwt(), canonical=True)

    def repaint(parts: list[Any]) -> None:
        parts[2] = green_payload

    result = verify(_with_sign1(issued(color="red"), repaint))
    refused_for(result, Rejection.BAD_SIGNATURE)
    assert result.claims is None  # nothing from an unverified payload leaks into the answer


def test_a_key_signing_under_another_issuers_kid_is_bad_signature() -> None:
    # A stranger claims our Ed25519 kid: the signature does not verify under the listed key.
    message = cose.encode_sign1(
        cbor2.dumps(claims().to_cwt()), kid=bytes.fromhex(kid_of(ED)), alg=cose.ALG_EDDSA, sign=STRANGER.sign
    )
    refused_for(verify(cose.encode_text(message, PREFIX)), Rejection.BAD_SIGNATURE)


def test_an_es256_alg_header_over_an_ed25519_key_is_algorithm_mismatch() -> None:
    message = cose.encode_sign1(
        cbor2.dumps(claims().to_cwt()),
        kid=bytes.fromhex(kid_of(ED)),
        alg=cose.ALG_ES256,
        sign=cose.signer_for(P256),
    )
    refused_for(verify(cose.encode_text(message, PREFIX)), Rejection.ALGORITHM_MISMATCH)


def test_an_eddsa_alg_header_over_a_p256_key_is_algorithm_mismatch() -> None:
    message = cose.encode_sign1(
        cbor2.dumps(claims().to_cwt()), kid=bytes.fromhex(kid_of(P256)), alg=cose.ALG_EDDSA, sign=ED.sign
    )
    refused_for(verify(cose.encode_text(message, PREFIX)), Rejection.ALGORITHM_MISMATCH)


def test_an_alg_outside_the_supported_set_is_algorithm_unsupported() -> None:
    payload = cbor2.dumps(claims().to_cwt())
    protected = cbor2.dumps({cose.HEADER_ALG: -35, cose.HEADER_KID: bytes.fromhex(kid_of(ED))})  # ES384
    signature = ED.sign(cose.sig_structure(protected, payload))
    message = cbor2.dumps(cbor2.CBORTag(cose.TAG_COSE_SIGN1, [protected, {}, payload, signature]))
    refused_for(verify(cose.encode_text(message, PREFIX)), Rejection.ALGORITHM_UNSUPPORTED)


def test_a_revoked_key_verifies_nothing() -> None:
    # Revocation stamps not_after with the revocation time; this code was signed 10 s before it.
    revoked = trust_list(issuer(HOME, issuer_key(ED, KeyStatus.REVOKED, not_after=NOW)))
    result = verify(issued(), revoked)
    refused_for(result, Rejection.REVOKED_KEY)
    assert result.kid == kid_of(ED)


def test_a_retired_key_still_verifies_codes_it_signed_before_retiring() -> None:
    retired = issuer_key(ED, KeyStatus.RETIRED, not_after=NOW + timedelta(days=7))
    assert verify(issued(), trust_list(issuer(HOME, retired))).valid


def test_a_code_dated_after_its_keys_not_after_is_key_not_valid_at_issue() -> None:
    retired = issuer_key(ED, KeyStatus.RETIRED, not_after=NOW - timedelta(minutes=5))
    refused_for(verify(issued(), trust_list(issuer(HOME, retired))), Rejection.KEY_NOT_VALID_AT_ISSUE)
    # Dated 10 s before a key that exists from now: inside the skew. A minute before it: not.
    assert verify(issued(), trust_list(issuer(HOME, issuer_key(ED, not_before=NOW)))).valid
    young = issuer_key(ED, not_before=NOW + timedelta(minutes=1))
    refused_for(verify(issued(), trust_list(issuer(HOME, young))), Rejection.KEY_NOT_VALID_AT_ISSUE)


# -- issuers ----------------------------------------------------------------------------------------


def test_an_issuer_not_in_the_trust_list_is_unknown_issuer() -> None:
    result = verify(issued(issuer="CN-NOWHERE"))
    refused_for(result, Rejection.UNKNOWN_ISSUER)
    assert result.claims is not None
    assert result.claims.issuer == "CN-NOWHERE"


def test_a_listed_issuer_other_than_the_keys_owner_is_issuer_mismatch() -> None:
    # Our key signs a code that claims to come from the peer: both issuers are listed, but the key is ours.
    peer = issuer(PEER, issuer_key(PEER_KEY))
    refused_for(verify(issued(issuer=PEER), trust_list(issuer(), peer)), Rejection.ISSUER_MISMATCH)
    refused_for(verify(issued(PEER_KEY, issuer=HOME), trust_list(issuer(), peer)), Rejection.ISSUER_MISMATCH)


# -- time -------------------------------------------------------------------------------------------


def test_a_code_past_its_expiry_plus_skew_is_expired_and_within_skew_is_not() -> None:
    token = issued(issued_at=NOW - timedelta(seconds=120), expires_at=NOW - timedelta(seconds=29))
    assert verify(token).valid
    refused_for(verify(token, now=NOW + timedelta(seconds=1)), Rejection.EXPIRED)
    refused_for(verify(issued(expires_at=NOW - timedelta(hours=1))), Rejection.EXPIRED)


def test_a_code_issued_in_the_future_beyond_skew_is_not_yet_valid_and_within_skew_is_fine() -> None:
    later = NOW + timedelta(minutes=5)
    within = issued(issued_at=NOW + SKEW, expires_at=later)
    beyond = issued(issued_at=NOW + SKEW + timedelta(seconds=1), expires_at=later)
    assert verify(within).valid
    refused_for(verify(beyond), Rejection.NOT_YET_VALID)


# -- the trust list itself --------------------------------------------------------------------------


def test_an_expired_trust_list_refuses_even_a_perfect_code() -> None:
    stale = trust_list(expires_at=NOW)
    refused_for(verify(issued(), stale), Rejection.TRUST_LIST_EXPIRED)
    assert verify(issued(), trust_list(expires_at=NOW + timedelta(seconds=1))).valid
