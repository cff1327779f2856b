"""The trust list: which issuers' keys a verifier accepts, for how long, and how their colors read here.

Each civicpass instance publishes a signed trust list of its own issuer keys (and, once federated, its
peers'). A verifier caches it and verifies codes offline against it; an expired list is refused, because
a revoked key only disappears from verifiers when they fetch a newer list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from civicpass.domain.codes import (
    ASSURANCE,
    CodeClaims,
    Rejection,
    Verification,
    time_rejections,
)


class KeyStatus(StrEnum):
    ACTIVE = "active"  # signs new codes
    RETIRED = "retired"  # signs nothing new; verifies codes until its last one expires
    REVOKED = "revoked"  # compromised: verifies nothing


@dataclass(frozen=True)
class IssuerKey:
    kid: str
    alg: str
    jwk: Mapping[str, str]
    status: KeyStatus
    not_before: datetime
    not_after: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **dict(self.jwk),
            "kid": self.kid,
            "alg": self.alg,
            "status": self.status.value,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat() if self.not_after else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> IssuerKey:
        jwk = {k: str(v) for k, v in raw.items() if k in ("kty", "crv", "x", "y", "use")}
        return cls(
            kid=str(raw["kid"]),
            alg=str(raw["alg"]),
            jwk=jwk,
            status=KeyStatus(raw["status"]),
            not_before=datetime.fromisoformat(str(raw["not_before"])),
            not_after=datetime.fromisoformat(str(raw["not_after"])) if raw.get("not_after") else None,
        )


@dataclass(frozen=True)
class Issuer:
    id: str
    names: Mapping[str, str]
    region: str
    keys: tuple[IssuerKey, ...]
    colors: Mapping[str, str]
    """Translation of this issuer's colors onto ours (identity for our own issuer)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "names": dict(self.names),
            "region": self.region,
            "keys": [k.as_dict() for k in self.keys],
            "colors": dict(self.colors),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Issuer:
        return cls(
            id=str(raw["id"]),
            names=dict(raw["names"]),
            region=str(raw["region"]),
            keys=tuple(IssuerKey.from_dict(k) for k in raw["keys"]),
            colors=dict(raw["colors"]),
        )


@dataclass(frozen=True)
class TrustList:
    version: int
    issued_at: datetime
    expires_at: datetime
    issuers: tuple[Issuer, ...]

    def as_document(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "issuers": [i.as_dict() for i in self.issuers],
        }

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> TrustList:
        """Parse a trust-list document; raises KeyError, ValueError or TypeError when it is malformed."""
        return cls(
            version=int(raw["version"]),
            issued_at=datetime.fromisoformat(str(raw["issued_at"])),
            expires_at=datetime.fromisoformat(str(raw["expires_at"])),
            issuers=tuple(Issuer.from_dict(i) for i in raw["issuers"]),
        )

    def key(self, kid: str) -> tuple[Issuer, IssuerKey] | None:
        for issuer in self.issuers:
            for key in issuer.keys:
                if key.kid == kid:
                    return issuer, key
        return None


def judge(
    claims: CodeClaims, issuer: Issuer, key: IssuerKey, trust_list: TrustList, now: datetime, skew: timedelta
) -> Verification:
    """Everything a verifier checks once the signature is good: list, key, issuer, time, color."""
    reasons: list[Rejection] = []
    if now >= trust_list.expires_at:
        reasons.append(Rejection.TRUST_LIST_EXPIRED)
    if key.status is KeyStatus.REVOKED:
        reasons.append(Rejection.REVOKED_KEY)
    if claims.issuer != issuer.id:
        reasons.append(Rejection.ISSUER_MISMATCH)
    if claims.issued_at + skew < key.not_before or (
        key.not_after is not None and claims.issued_at > key.not_after
    ):
        reasons.append(Rejection.KEY_NOT_VALID_AT_ISSUE)
    reasons.extend(time_rejections(claims, now, skew))
    color = issuer.colors.get(claims.color)
    if color is None:
        reasons.append(Rejection.MALFORMED_CLAIMS)
    if reasons:
        return Verification.refuse(*reasons, claims=claims, kid=key.kid)
    return Verification(True, (), claims, issuer.names, color, ASSURANCE[claims.kind], key.kid)


def expiry_for(issued_at: datetime, hours: int) -> datetime:
    return issued_at + timedelta(hours=hours)
