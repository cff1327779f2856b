"""The civicpass code codec: ``CP1:`` + Base45(zlib(COSE_Sign1(CWT claims))), issuing and verifying.

``verify`` is a pure function of (token, trust list, now, skew): no I/O, no clock of its own. It checks
layer by layer and stops at the first layer that fails (its reason says which), then checks the signature
against the trust list's key for the code's ``kid``, and finally hands the claims to
``domain.trustlist.judge`` for key state, issuer, time and color. docs/formats/code.md has the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from civicpass.adapters.crypto import b64url
from civicpass.adapters.crypto.cose import (
    CodeFormatError,
    PublicKey,
    decode_cwt,
    decode_sign1,
    decode_text,
    encode_sign1,
    encode_text,
    verify_sign1,
)
from civicpass.adapters.crypto.signing import verify_document
from civicpass.domain.codes import PREFIX, CodeClaims, Rejection, Verification
from civicpass.domain.trustlist import Issuer, IssuerKey, KeyStatus, TrustList, judge
from civicpass.domain.venues import VenueCodeClaims
from civicpass.services.ports import SigningKeyHandle

MAX_INFLATED = 4096
"""A civicpass code's CWT is about 100 bytes; anything inflating past 4 KiB is refused as a bomb."""


def public_key_of(key: IssuerKey) -> PublicKey:
    """The key in a trust-list JWK (RFC 8037 OKP Ed25519, RFC 7518 EC P-256)."""
    jwk = key.jwk
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return Ed25519PublicKey.from_public_bytes(b64url.decode(jwk["x"]))
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url.decode(jwk["x"]), "big"),
            int.from_bytes(b64url.decode(jwk["y"]), "big"),
            ec.SECP256R1(),
        )
        return numbers.public_key()
    raise ValueError(f"unsupported JWK {jwk.get('kty')}/{jwk.get('crv')}")


@dataclass(frozen=True)
class Authenticated:
    """A code whose signature verified against a listed key: its raw claims, issuer and key."""

    claims: dict[Any, Any]
    issuer: Issuer
    key: IssuerKey


class CoseCodeCodec:
    def _sign(self, cwt: Mapping[int, Any], key: SigningKeyHandle) -> str:
        payload = cbor2.dumps(dict(cwt), canonical=True)
        cose = encode_sign1(payload, kid=bytes.fromhex(key.kid), alg=key.cose_alg, sign=key.sign)
        return encode_text(cose, PREFIX)

    def issue(self, claims: CodeClaims, key: SigningKeyHandle) -> str:
        return self._sign(claims.to_cwt(), key)

    def issue_venue(self, claims: VenueCodeClaims, key: SigningKeyHandle) -> str:
        return self._sign(claims.to_cwt(), key)

    def authenticate(self, token: str, trust_list: TrustList) -> Authenticated | Verification:
        """Decode layer by layer and check the signature; a ``Verification`` is a refusal with its reason."""
        try:
            sign1 = decode_sign1(decode_text(token, PREFIX, max_inflated=MAX_INFLATED))
        except CodeFormatError as error:
            return Verification.refuse(Rejection(error.reason))
        kid = sign1.kid.hex() if sign1.kid else None
        found = trust_list.key(kid) if kid else None
        if found is None:
            return Verification.refuse(Rejection.UNKNOWN_KID, kid=kid)
        issuer, key = found
        try:
            if not verify_sign1(sign1, public_key_of(key)):
                return Verification.refuse(Rejection.BAD_SIGNATURE, kid=kid)
            return Authenticated(decode_cwt(sign1.payload), issuer, key)
        except CodeFormatError as error:
            return Verification.refuse(Rejection(error.reason), kid=kid)
        except ValueError:
            return Verification.refuse(Rejection.ALGORITHM_UNSUPPORTED, kid=kid)

    def verify(self, token: str, trust_list: TrustList, now: datetime, skew: timedelta) -> Verification:
        opened = self.authenticate(token, trust_list)
        if isinstance(opened, Verification):
            return opened
        claims = CodeClaims.from_cwt(opened.claims)
        if claims is None:
            return Verification.refuse(Rejection.MALFORMED_CLAIMS, kid=opened.key.kid)
        if all(i.id != claims.issuer for i in trust_list.issuers):
            return Verification.refuse(Rejection.UNKNOWN_ISSUER, claims=claims, kid=opened.key.kid)
        return judge(claims, opened.issuer, opened.key, trust_list, now, skew)

    def open_venue(self, token: str, trust_list: TrustList) -> VenueCodeClaims | Rejection:
        """A venue code's claims if its signature verifies under a usable key of its issuer."""
        opened = self.authenticate(token, trust_list)
        if isinstance(opened, Verification):
            return opened.reasons[0]
        claims = VenueCodeClaims.from_cwt(opened.claims)
        if claims is None:
            return Rejection.MALFORMED_CLAIMS
        if claims.issuer != opened.issuer.id:
            return Rejection.ISSUER_MISMATCH
        if opened.key.status is KeyStatus.REVOKED:
            return Rejection.REVOKED_KEY
        return claims


def verify_with_trust_list(
    token: str, signed: Mapping[str, Any], at: str | None, pinned_key: str | None, skew_seconds: int
) -> dict[str, Any]:
    """Offline verification as a stand-alone verifier does it: check the list's signature, then the code.

    ``pinned_key`` is the trust-list signer's public key as the verifier knows it; without it the key in
    the file is used and the answer says so (``trust_list_signer_pinned: false``).
    """
    now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    key = pinned_key or str(signed.get("public_key", ""))
    document = signed.get("trust_list")
    signature = str(signed.get("signature", ""))
    if not isinstance(document, Mapping) or not verify_document(key, document, signature):
        result = Verification.refuse(Rejection.TRUST_LIST_INVALID).as_dict()
    else:
        try:
            trust_list = TrustList.from_document(document)
        except (KeyError, TypeError, ValueError):
            result = Verification.refuse(Rejection.TRUST_LIST_INVALID).as_dict()
        else:
            result = (
                CoseCodeCodec()
                .verify(token.strip(), trust_list, now, timedelta(seconds=skew_seconds))
                .as_dict()
            )
    return {**result, "verified_at": now.isoformat(), "trust_list_signer_pinned": pinned_key is not None}
