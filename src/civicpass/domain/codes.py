"""Health codes: the claims a code carries and the checks a verifier makes on them.

A code carries no personal data: the issuer, a pseudonymous subject (random per resident and issuer,
rotatable), issue and expiry times, a nonce, and one private claim with the color, the status version and
the kind of code. The byte format (CWT in COSE_Sign1, zlib, Base45, ``CP1:``) is documented in
docs/formats/code.md; this module works on the decoded claims only.

CWT claim keys (RFC 8392): 1 iss, 2 sub, 4 exp, 6 iat, 7 cti; the private claim is ``-70001`` with the map
{1: color, 2: status version, 3: kind}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

ISS, SUB, EXP, IAT, CTI = 1, 2, 4, 6, 7
CIVICPASS_CLAIM = -70001
PREFIX = "CP1:"


class CodeKind(StrEnum):
    DYNAMIC = "dynamic"  # shown in the app, valid for minutes and refreshed
    PROXY = "proxy"  # a dependent's dynamic code shown on a guardian's phone
    OFFLINE = "offline"  # printed for people without phones, valid for days


class Assurance(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


ASSURANCE = {
    CodeKind.DYNAMIC: Assurance.HIGH,
    CodeKind.PROXY: Assurance.MEDIUM,
    CodeKind.OFFLINE: Assurance.LOW,
}


class Rejection(StrEnum):
    """Why a code is refused: one reason code per failure a verifier can meet."""

    BAD_PREFIX = "bad_prefix"
    BAD_BASE45 = "bad_base45"
    DECOMPRESSION_FAILED = "decompression_failed"
    DECOMPRESSION_BOMB = "decompression_bomb"
    MALFORMED_COSE = "malformed_cose"
    MALFORMED_CBOR = "malformed_cbor"
    MALFORMED_CLAIMS = "malformed_claims"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    ALGORITHM_MISMATCH = "algorithm_mismatch"
    ALGORITHM_UNSUPPORTED = "algorithm_unsupported"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED_KEY = "revoked_key"
    KEY_NOT_VALID_AT_ISSUE = "key_not_valid_at_issue"
    UNKNOWN_ISSUER = "unknown_issuer"
    ISSUER_MISMATCH = "issuer_mismatch"
    TRUST_LIST_EXPIRED = "trust_list_expired"
    TRUST_LIST_INVALID = "trust_list_invalid"


@dataclass(frozen=True)
class CodeClaims:
    issuer: str
    subject: str
    issued_at: datetime
    expires_at: datetime
    nonce: bytes
    color: str
    status_version: int
    kind: CodeKind

    def to_cwt(self) -> dict[int, Any]:
        return {
            ISS: self.issuer,
            SUB: self.subject,
            EXP: int(self.expires_at.timestamp()),
            IAT: int(self.issued_at.timestamp()),
            CTI: self.nonce,
            CIVICPASS_CLAIM: {1: self.color, 2: self.status_version, 3: self.kind.value},
        }

    @classmethod
    def from_cwt(cls, claims: Mapping[Any, Any]) -> CodeClaims | None:
        """The claims of a civicpass code, or None when any is missing or of the wrong type."""
        private = claims.get(CIVICPASS_CLAIM)
        try:
            if not isinstance(private, Mapping):
                return None
            values = (claims[ISS], claims[SUB], claims[EXP], claims[IAT], claims[CTI], private[1], private[2])
            if not (
                isinstance(values[0], str)
                and isinstance(values[1], str)
                and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in (values[2], values[3], values[6])
                )
                and isinstance(values[4], bytes)
                and isinstance(values[5], str)
            ):
                return None
            return cls(
                issuer=values[0],
                subject=values[1],
                issued_at=datetime.fromtimestamp(values[3], UTC),
                expires_at=datetime.fromtimestamp(values[2], UTC),
                nonce=values[4],
                color=values[5],
                status_version=values[6],
                kind=CodeKind(private[3]),
            )
        except (KeyError, ValueError, OverflowError, OSError):
            return None


def time_rejections(claims: CodeClaims, now: datetime, skew: timedelta) -> list[Rejection]:
    """Expired, or issued in the future beyond the allowed clock skew."""
    reasons = []
    if now >= claims.expires_at + skew:
        reasons.append(Rejection.EXPIRED)
    if claims.issued_at > now + skew:
        reasons.append(Rejection.NOT_YET_VALID)
    return reasons


@dataclass(frozen=True)
class Verification:
    """A verifier's answer. ``valid`` is true only when ``reasons`` is empty."""

    valid: bool
    reasons: tuple[Rejection, ...] = ()
    claims: CodeClaims | None = None
    issuer_name: Mapping[str, str] = field(default_factory=dict)
    color: str | None = None
    assurance: Assurance | None = None
    kid: str | None = None

    @classmethod
    def refuse(
        cls, *reasons: Rejection, claims: CodeClaims | None = None, kid: str | None = None
    ) -> Verification:
        return cls(False, tuple(reasons), claims, kid=kid)

    def as_dict(self) -> dict[str, Any]:
        c = self.claims
        return {
            "valid": self.valid,
            "reasons": [r.value for r in self.reasons],
            "color": self.color,
            "issuer": c.issuer if c else None,
            "issuer_name": dict(self.issuer_name),
            "kind": c.kind.value if c else None,
            "assurance": self.assurance.value if self.assurance else None,
            "status_version": c.status_version if c else None,
            "issued_at": c.issued_at.isoformat() if c else None,
            "expires_at": c.expires_at.isoformat() if c else None,
            "kid": self.kid,
        }
