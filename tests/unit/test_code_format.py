"""The CP1 code format is a contract: the worked example of docs/formats/code.md, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from civicpass.adapters.codes import CoseCodeCodec
from civicpass.adapters.crypto import cose
from civicpass.adapters.crypto.keystore import SigningKey, jwk_of, kid_of
from civicpass.domain.codes import CodeClaims, CodeKind
from civicpass.domain.trustlist import Issuer, IssuerKey, KeyStatus, TrustList

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
CLAIMS = CodeClaims(
    issuer="CN-440100-GZ",
    subject="q7Rw2mXbVfK9sLpT3aZc1e",
    issued_at=datetime(2022, 5, 3, tzinfo=UTC),
    expires_at=datetime(2022, 5, 3, 0, 2, tzinfo=UTC),
    nonce=bytes.fromhex("00112233445566778899aabbccddeeff"),
    color="green",
    status_version=3,
    kind=CodeKind.DYNAMIC,
)
PAYLOAD = (
    "a6016c434e2d3434303130302d475a027671375277326d586256664b39734c705433615a633165041a627070f8061a6270708007"
    "5000112233445566778899aabbccddeeff3a00011170a30165677265656e0203036764796e616d6963"
)
SIGNATURE = (
    "65177961137276367380a65c9d32d7758077b3563c15b0af2ab614865e65ef0ca8bf3f7210398bc5ee4afc367a51b14de4248f"
    "1568cceb25812a5f8a2fd9550c"
)
TOKEN = (
    "CP1:NCFOXN%TSMAHO.JTOCT682 D1N7BXQMDHV$C%D7.0G1$45$0CY0JSNMCAO$C+4TE:S$HNKC9CHDW2J$$76C48GHKLPIHL5IAPS0938"
    "E68 J0-20LDKRIMT8DZHFJ$PJXNF*R5FV.MHWEAA7CPPC%KFHKD4 3VM6VKFU C/JC .CJWGZOL8%C/8EHHJ8HE0QM0JNZ9R4N3+07NMRX."
    "DQ9MV 91W560VUAQY4WQW8B3J*39:IFPC6ZG1IKTNU8R1C-ZSKSD3.8*GVX2WBHK-40 /G72"
)


def _signing_key() -> SigningKey:
    return SigningKey(kid_of(KEY), "EdDSA", -8, KEY.sign)


def test_the_key_id_is_the_first_8_bytes_of_sha256_over_the_spki() -> None:
    assert kid_of(KEY) == "a050837d85070582"
    assert cose.kid_for(KEY.public_key()).hex() == "a050837d85070582"


def test_claims_encode_to_the_documented_canonical_cbor() -> None:
    assert cbor2.dumps(CLAIMS.to_cwt(), canonical=True).hex() == PAYLOAD


def test_the_worked_example_is_reproduced_byte_for_byte() -> None:
    token = CoseCodeCodec().issue(CLAIMS, _signing_key())
    assert token == TOKEN
    sign1 = cose.decode_sign1(cose.decode_text(token, "CP1:"))
    assert sign1.protected == {1: -8, 4: bytes.fromhex("a050837d85070582")}
    assert sign1.payload.hex() == PAYLOAD
    assert sign1.signature.hex() == SIGNATURE


def test_the_golden_token_verifies_and_round_trips_its_claims() -> None:
    key = IssuerKey(
        kid_of(KEY), "EdDSA", jwk_of(KEY), KeyStatus.ACTIVE, datetime(2022, 1, 1, tzinfo=UTC), None
    )
    issuer = Issuer("CN-440100-GZ", {"en": "Guangzhou"}, "440100", (key,), {"green": "green"})
    trust = TrustList(1, datetime(2022, 5, 2, tzinfo=UTC), datetime(2022, 5, 4, tzinfo=UTC), (issuer,))
    result = CoseCodeCodec().verify(
        TOKEN, trust, datetime(2022, 5, 3, 0, 1, tzinfo=UTC), timedelta(seconds=30)
    )
    assert result.valid
    assert result.claims == CLAIMS
    assert result.as_dict()["assurance"] == "high"
