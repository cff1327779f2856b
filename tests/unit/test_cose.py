"""The signed-code wire format: COSE_Sign1 (RFC 9052), CWT (RFC 8392), zlib (RFC 1950), Base45 (RFC 9285)."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from civicpass.adapters.crypto import cose
from civicpass.adapters.crypto.cose import CodeFormatError
from civicpass.domain.errors import InvalidInput

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PREFIX = "CP1:"
SEED = b"\x01" * 32
CLAIMS = {1: "civicpass.example", 2: "subject-1", 4: 1_700_003_600, 6: 1_700_000_000, 7: b"\x00" * 16}
PAYLOAD = cbor2.dumps(CLAIMS)

# prefix || Base45(zlib(COSE_Sign1)) of PAYLOAD signed with Ed25519 seed 01*32 (EdDSA is deterministic).
GOLDEN_KID = "fd110d301d2f077d"
GOLDEN_TEXT = (
    "CP1:NCFOXN%TSMAHO.JCZS.54VHGK+771UH51Z-K4-GTHJ*JJMV040P MFNW2PHN1D7YU9H:OCC9+KLSY4D/GBKASNOBX0BDG2:8L4VDZ0162K56"
    "%7WMQECST8HAM.DKUV1BU$TFX0R1YBUFSCCVP$T*NAJD7PHRAUVLPJ$ZJ J6P/B4.HTAFCX95K7CBETQ8E:OHMC/9NBXEW81J/UHB0ZO9F.6"
)


def ed25519() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(SEED)


def p256() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(7, ec.SECP256R1())


def signed(key: PrivateKey, payload: bytes = PAYLOAD) -> bytes:
    return cose.encode_sign1(
        payload, kid=cose.kid_for(key.public_key()), alg=cose.alg_for(key), sign=cose.signer_for(key)
    )


def reason_of(excinfo: pytest.ExceptionInfo[CodeFormatError]) -> str:
    return excinfo.value.reason


# -- round trips and golden bytes -------------------------------------------------------------------


@pytest.mark.parametrize("make_key", [ed25519, p256], ids=["EdDSA", "ES256"])
def test_a_signed_code_round_trips_through_text_and_verifies(make_key: Callable[[], PrivateKey]) -> None:
    key = make_key()
    text = cose.encode_text(signed(key), PREFIX)
    sign1 = cose.decode_sign1(cose.decode_text(text, PREFIX))
    assert cose.verify_sign1(sign1, key.public_key())
    assert sign1.kid == cose.kid_for(key.public_key())
    assert sign1.alg == cose.alg_for(key)
    assert cose.decode_cwt(sign1.payload) == CLAIMS


def test_es256_signature_is_raw_r_and_s_of_64_bytes() -> None:
    assert len(cose.decode_sign1(signed(p256())).signature) == 64


def test_protected_header_is_alg_then_kid_and_message_is_tag_18() -> None:
    raw = signed(ed25519())
    item = cbor2.loads(raw)
    assert item.tag == cose.TAG_COSE_SIGN1
    assert item.value[0] == cbor2.dumps({1: -8, 4: cose.kid_for(ed25519().public_key())})
    assert item.value[1] == {}


def test_to_be_signed_is_the_rfc_9052_sig_structure() -> None:
    sign1 = cose.decode_sign1(signed(ed25519()))
    protected = cbor2.loads(signed(ed25519())).value[0]
    assert sign1.to_be_signed == cbor2.dumps(["Signature1", protected, b"", PAYLOAD])


def test_ed25519_code_text_is_byte_for_byte_the_golden_value() -> None:
    assert cose.kid_for(ed25519().public_key()).hex() == GOLDEN_KID
    assert cose.encode_text(signed(ed25519()), PREFIX) == GOLDEN_TEXT


def test_kid_is_first_8_bytes_of_sha256_over_der_spki() -> None:
    public = p256().public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert cose.kid_for(public) == hashlib.sha256(spki).digest()[:8]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
        (b"", ""),
    ],
)
def test_base45_matches_rfc_9285_examples(data: bytes, text: str) -> None:
    assert cose.b45encode(data) == text
    assert cose.b45decode(text) == data


def test_base45_round_trips_every_byte_value() -> None:
    data = bytes(range(256)) * 3 + b"\xff"
    assert cose.b45decode(cose.b45encode(data)) == data


# -- rejections, one reason each --------------------------------------------------------------------


def test_errors_are_invalid_input_with_bilingual_messages() -> None:
    with pytest.raises(CodeFormatError) as excinfo:
        cose.decode_text("HC1:xyz", PREFIX)
    assert isinstance(excinfo.value, InvalidInput)
    assert excinfo.value.message.zh
    assert excinfo.value.message.en
    assert "CP1:" in excinfo.value.extra["detail"]


@pytest.mark.parametrize("text", ["HC1:6BF", "cp1:6BF", "6BF", "", "CP1"])
def test_a_missing_or_different_prefix_is_bad_prefix(text: str) -> None:
    with pytest.raises(CodeFormatError) as excinfo:
        cose.decode_text(text, PREFIX)
    assert reason_of(excinfo) == "bad_prefix"


@pytest.mark.parametrize("body", ["abc", "A", "GGW", "6BF\n", "::", "ÄBC"])
def test_text_outside_base45_is_bad_base45(body: str) -> None:
    with pytest.raises(CodeFormatError) as excinfo:
        cose.decode_text(PREFIX + body, PREFIX)
    assert reason_of(excinfo) == "bad_base45"


@pytest.mark.parametrize(
    "compressed",
    [b"not zlib", zlib.compress(b"x" * 100)[:-3], zlib.compress(b"abc") + b"trailing", b""],
    ids=["garbage", "truncated", "trailing-bytes", "empty"],
)
def test_a_broken_zlib_stream_is_decompression_failed(compressed: bytes) -> None:
    with pytest.raises(CodeFormatError) as excinfo:
        cose.decode_text(PREFIX + cose.b45encode(compressed), PREFIX)
    assert reason_of(excinfo) == "decompression_failed"


def test_a_zlib_bomb_is_refused_without_inflating_it_all(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = zlib.compress(b"\x00" * 10_000_000, 9)
    produced: list[int] = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self) -> None:
            self._inner = real()

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inner.decompress(data, max_length)
            produced.append(len(out))
            return out

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    with pytest.raises(CodeFormatError) as excinfo:
        cose.decode_text(PREFIX + cose.b45encode(bomb), PREFIX, max_inflated=64 * 1024)
    assert reason_of(excinfo) == "decompression_bomb"
    assert sum(produced) <= 64 * 1024 + 1


def test_output_exactly_at_the_limit_is_accepted() -> None:
    assert cose.inflate(zlib.compress(b"a" * 1000), 1000) == b"a" * 1000


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        cbor2.dumps([b"", {}, b"", b""]) + b"\x00",
        cbor2.dumps({"not": "an array"}),
        cbor2.dumps([b"", {}, b""]),
        cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b""])),
        cbor2.dumps(cbor2.CBORTag(61, [b"", {}, b"", b""])),
        cbor2.dumps(["protected", {}, b"", b""]),
        cbor2.dumps([cbor2.dumps([1, 2]), {}, b"", b""]),
        cbor2.dumps([cbor2.dumps({1: -8}) + b"\x00", {}, b"", b""]),
        cbor2.dumps([b"", [], b"", b""]),
        cbor2.dumps([b"", {}, None, b""]),
        cbor2.dumps([b"", {}, b"", "signature"]),
        cbor2.dumps([cbor2.dumps({4: "text kid"}), {}, b"", b""]),
        cbor2.dumps([cbor2.dumps({1: "EdDSA"}), {}, b"", b""]),
    ],
    ids=[
        "empty",
        "not-cbor",
        "trailing-byte",
        "map",
        "three-elements",
        "wrong-tag",
        "cwt-tag-without-sign1",
        "protected-not-bstr",
        "protected-not-map",
        "protected-trailing",
        "unprotected-not-map",
        "detached-payload",
        "signature-not-bstr",
        "kid-not-bstr",
        "alg-not-int",
    ],
)
def test_malformed_cose_is_malformed_cose(data: bytes) -> None:
    with pytest.raises(CodeFormatError) as excinfo:
        cose.decode_sign1(data)
    assert reason_of(excinfo) == "malformed_cose"


def test_untagged_and_cwt_tagged_messages_are_accepted() -> None:
    body = cbor2.loads(signed(ed25519())).value
    for data in (cbor2.dumps(list(body)), cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(18, list(body))))):
        assert cose.verify_sign1(cose.decode_sign1(data), ed25519().public_key())


def test_kid_and_alg_fall_back_to_the_unprotected_header_but_protected_wins() -> None:
    data = cbor2.dumps([cbor2.dumps({4: b"protect"}), {1: -7, 4: b"unprot"}, b"", b""])
    sign1 = cose.decode_sign1(data)
    assert (sign1.kid, sign1.alg) == (b"protect", -7)


@pytest.mark.parametrize("payload", [b"", b"\xff", cbor2.dumps([1, 2]), cbor2.dumps({1: 2}) + b"\x00"])
def test_claims_that_are_not_one_cbor_map_are_malformed_cbor(payload: bytes) -> None:
    with pytest.raises(CodeFormatError) as excinfo:
        cose.decode_cwt(payload)
    assert reason_of(excinfo) == "malformed_cbor"


def _with_alg(alg: int, key: PrivateKey) -> cose.Sign1:
    return cose.decode_sign1(cose.encode_sign1(PAYLOAD, kid=b"k", alg=alg, sign=cose.signer_for(key)))


def test_an_alg_the_key_was_not_made_for_is_algorithm_mismatch() -> None:
    es256_message = _with_alg(cose.ALG_ES256, p256())
    for key in (ed25519().public_key(), ec.generate_private_key(ec.SECP384R1()).public_key()):
        with pytest.raises(CodeFormatError) as excinfo:
            cose.verify_sign1(es256_message, key)
        assert reason_of(excinfo) == "algorithm_mismatch"
    with pytest.raises(CodeFormatError) as excinfo:
        cose.verify_sign1(_with_alg(cose.ALG_EDDSA, ed25519()), p256().public_key())
    assert reason_of(excinfo) == "algorithm_mismatch"
    with pytest.raises(CodeFormatError) as excinfo:
        cose.verify_sign1(es256_message, rsa.generate_private_key(65537, 2048).public_key())
    assert reason_of(excinfo) == "algorithm_mismatch"


def test_an_unknown_or_missing_alg_is_refused() -> None:
    unknown = cose.decode_sign1(cbor2.dumps([cbor2.dumps({1: -257}), {}, PAYLOAD, b"sig"]))
    with pytest.raises(CodeFormatError) as excinfo:
        cose.verify_sign1(unknown, ed25519().public_key())
    assert reason_of(excinfo) == "algorithm_unsupported"
    with pytest.raises(CodeFormatError) as excinfo:
        cose.encode_sign1(PAYLOAD, kid=b"k", alg=-257, sign=ed25519().sign)
    assert reason_of(excinfo) == "algorithm_unsupported"
    missing = cose.decode_sign1(cbor2.dumps([b"", {}, PAYLOAD, b"sig"]))
    with pytest.raises(CodeFormatError) as excinfo:
        cose.verify_sign1(missing, ed25519().public_key())
    assert reason_of(excinfo) == "malformed_cose"


# -- tampering --------------------------------------------------------------------------------------


def _tampered(raw: bytes, index: int) -> bytes:
    body = list(cbor2.loads(raw).value)
    changed = bytearray(body[index])
    changed[-1] ^= 0x01
    body[index] = bytes(changed)
    return cbor2.dumps(cbor2.CBORTag(18, body))


@pytest.mark.parametrize("make_key", [ed25519, p256], ids=["EdDSA", "ES256"])
@pytest.mark.parametrize("index", [2, 3], ids=["payload", "signature"])
def test_a_tampered_payload_or_signature_does_not_verify(
    make_key: Callable[[], PrivateKey], index: int
) -> None:
    key = make_key()
    sign1 = cose.decode_sign1(_tampered(signed(key), index))
    assert not cose.verify_sign1(sign1, key.public_key())


def test_another_key_of_the_same_type_does_not_verify() -> None:
    other = Ed25519PrivateKey.from_private_bytes(b"\x02" * 32).public_key()
    assert not cose.verify_sign1(cose.decode_sign1(signed(ed25519())), other)


@pytest.mark.parametrize("length", [0, 63, 65, 72])
def test_an_es256_signature_of_the_wrong_size_is_false_not_a_crash(length: int) -> None:
    body = list(cbor2.loads(signed(p256())).value)
    body[3] = b"\x01" * length
    assert not cose.verify_sign1(cose.decode_sign1(cbor2.dumps(body)), p256().public_key())
