"""EU Digital COVID Certificate (hcert) glue over the generic COSE/CWT codec in :mod:`.cose`.

Follows the eHealth Network "Electronic Health Certificate Container Format" (hcert spec v1.0.x):

- the certificate is claim -260 (hcert) → 1 (eu_DCC_v1) of the CWT, a JSON-like map with exactly one of
  ``v`` (vaccination), ``t`` (test) or ``r`` (recovery);
- the COSE kid is the first 8 bytes of the SHA-256 fingerprint of the Document Signer Certificate (the
  whole DER certificate, not its public key — unlike civicpass's own :func:`.cose.kid_for`);
- a DSC may restrict which kinds it signs with extended key usage OIDs 1.3.6.1.4.1.1847.2021.1.{1,2,3}
  (test, vaccination, recovery; some issuers used the mistyped 1.3.6.1.4.1.0.1847.2021.1.x). A DSC
  without an extended key usage extension may sign every kind.
- a certificate is valid when DSC not-before ≤ iat ≤ now ≤ exp ≤ DSC not-after (CWT claims 6 and 4).

Production code will use it to read foreign certificates; the conformance suite checks it against the
EU test data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from civicpass.adapters.crypto.cose import CodeFormatError
from civicpass.domain.codes import Rejection

PREFIX: Final = "HC1:"
CLAIM_ISS: Final = 1
CLAIM_EXP: Final = 4
CLAIM_IAT: Final = 6
CLAIM_HCERT: Final = -260
HCERT_EU_DCC_V1: Final = 1

CertificateType = Literal["v", "t", "r"]
_TYPES: Final[tuple[CertificateType, ...]] = ("v", "t", "r")
KEY_USAGE_OIDS: Final[Mapping[CertificateType, frozenset[str]]] = {
    "t": frozenset({"1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.1"}),
    "v": frozenset({"1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.2"}),
    "r": frozenset({"1.3.6.1.4.1.1847.2021.1.3", "1.3.6.1.4.1.0.1847.2021.1.3"}),
}


def _claims_error(detail: str) -> CodeFormatError:
    return CodeFormatError(Rejection.MALFORMED_CLAIMS, detail)


def dcc_payload(claims: Mapping[Any, Any]) -> dict[str, Any]:
    """The eu_DCC_v1 map at claims[-260][1]."""
    hcert = claims.get(CLAIM_HCERT)
    if not isinstance(hcert, Mapping) or HCERT_EU_DCC_V1 not in hcert:
        raise _claims_error(
            f"expected claim {CLAIM_HCERT} holding a map with key 1, got {type(hcert).__name__}"
        )
    payload = hcert[HCERT_EU_DCC_V1]
    if not isinstance(payload, Mapping):
        raise _claims_error(f"expected the DCC to be a map, got {type(payload).__name__}")
    return dict(payload)


def certificate_type(payload: Mapping[str, Any]) -> CertificateType:
    """Which kind a DCC is; it must hold exactly one of v, t, r (hcert spec §2.6.3)."""
    present = [kind for kind in _TYPES if kind in payload]
    if len(present) != 1:
        raise _claims_error(f"expected exactly one of v, t, r in the DCC, got {present or 'none'}")
    return present[0]


def as_json(value: Any) -> Any:
    """The JSON view of decoded CBOR: tag 0/1 date-times become RFC 3339 strings in UTC."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    return value


def dcc_kid(certificate: x509.Certificate) -> bytes:
    """The kid of a DSC: the first 8 bytes of SHA-256 over its DER encoding (hcert spec §3.3.1)."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def key_usage_allows(certificate: x509.Certificate, kind: CertificateType) -> bool:
    """Whether a DSC may sign this kind of certificate.

    No extended key usage extension: every kind. An extension: only the kinds whose DCC OIDs it lists,
    so a DSC restricted to other purposes (e.g. only an ICAO OID) signs no DCC at all — fail closed.
    """
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return not KEY_USAGE_OIDS[kind].isdisjoint(oid.dotted_string for oid in usages)


def _timestamp(claims: Mapping[Any, Any], key: int, name: str) -> datetime:
    value = claims.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _claims_error(f"expected claim {key} ({name}) as NumericDate, got {type(value).__name__}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _claims_error(f"expected claim {key} ({name}) in range, got {value}") from exc


def valid_at(claims: Mapping[Any, Any], certificate: x509.Certificate, now: datetime) -> bool:
    """DSC not-before ≤ iat ≤ now ≤ exp ≤ DSC not-after; ``now`` is passed in, never read from a clock."""
    issued_at = _timestamp(claims, CLAIM_IAT, "iat")
    expires_at = _timestamp(claims, CLAIM_EXP, "exp")
    return (
        certificate.not_valid_before_utc <= issued_at <= now <= expires_at <= certificate.not_valid_after_utc
    )
