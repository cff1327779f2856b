"""The signed-code wire format: CWT claims in a COSE_Sign1, zlib-compressed, Base45 text with a prefix.

This is the EU Digital COVID Certificate stack, so one codec reads civicpass ``CP1:`` codes and foreign
``HC1:`` certificates alike::

    text = prefix || Base45(zlib(COSE_Sign1(CWT claims)))

- COSE_Sign1: RFC 9052 §4.2 (message), §4.4 (Sig_structure), §3 (headers); tag 18 (RFC 9052 §2).
- Algorithms: EdDSA -8 over Ed25519 (RFC 9053 §2.2), ES256 -7 with the signature as raw r || s
  (RFC 9053 §2.1), PS256 -37 with salt length = hash length (RFC 8230 §2).
- CWT: RFC 8392; the claims map is the COSE payload; tag 61 may wrap the COSE message (RFC 8392 §6).
- zlib: RFC 1950 (inflated incrementally with a hard output limit against decompression bombs).
- Base45: RFC 9285.

Everything here is a small pure function. Malformed input raises :class:`CodeFormatError` with one reason
code per failure (the same codes as :class:`civicpass.domain.codes.Rejection`); a signature that does not
verify is ``False``, never an exception. Nothing is accepted by default: no detached payloads, no trailing
bytes after a CBOR item, no algorithm the key was not made for.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from civicpass.domain.codes import Rejection
from civicpass.domain.errors import InvalidInput, Message

# RFC 9052 §3.1 common header labels and §2 CBOR tags; RFC 8392 §6 CWT tag.
HEADER_ALG: Final = 1
HEADER_KID: Final = 4
TAG_COSE_SIGN1: Final = 18
TAG_CWT: Final = 61
# RFC 9053 §2.1 / §2.2, RFC 8230 §2 algorithm identifiers.
ALG_ES256: Final = -7
ALG_EDDSA: Final = -8
ALG_PS256: Final = -37
SUPPORTED_ALGS: Final = frozenset({ALG_EDDSA, ALG_ES256, ALG_PS256})

_ES256_COORDINATE = 32  # P-256 r and s are 32 bytes each (RFC 9053 §2.1)
_MIN_RSA_BITS = 2048  # RFC 8230 §5: keys smaller than 2048 bits MUST NOT be used

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_MESSAGES: Final[Mapping[Rejection, Message]] = {
    Rejection.BAD_PREFIX: Message("The code does not start with the expected prefix.", "码的前缀不正确。"),
    Rejection.BAD_BASE45: Message("The code is not valid Base45 text.", "码不是有效的 Base45 文本。"),
    Rejection.DECOMPRESSION_FAILED: Message("The code could not be decompressed.", "码无法解压缩。"),
    Rejection.DECOMPRESSION_BOMB: Message(
        "The code decompresses to more data than allowed.", "码解压后的数据超过允许的大小。"
    ),
    Rejection.MALFORMED_COSE: Message(
        "The code's signature envelope is malformed.", "码的签名结构格式错误。"
    ),
    Rejection.MALFORMED_CBOR: Message(
        "The code's content is not well-formed CBOR.", "码的内容不是格式正确的 CBOR。"
    ),
    Rejection.MALFORMED_CLAIMS: Message(
        "The code's claims are missing or of the wrong type.", "码的声明缺失或类型错误。"
    ),
    Rejection.ALGORITHM_MISMATCH: Message(
        "The signature algorithm does not match the signing key.", "签名算法与签名密钥不匹配。"
    ),
    Rejection.ALGORITHM_UNSUPPORTED: Message(
        "The signature algorithm is not supported.", "不支持该签名算法。"
    ),
}


class CodeFormatError(InvalidInput):
    """A code's bytes are not the format: ``reason`` says which layer, ``extra['detail']`` expected vs actual."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(reason.value, _MESSAGES[reason], extra={"detail": detail})
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1 (RFC 9052 §4.2) with the exact bytes its signature covers."""

    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    to_be_signed: bytes
    kid: bytes | None
    alg: int | None


# -- CBOR -------------------------------------------------------------------------------------------


def _cbor_item(data: bytes, reason: Rejection, what: str) -> Any:
    """Exactly one CBOR data item (RFC 8949 §5.1: a well-formed item); trailing bytes are an error."""
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CodeFormatError(reason, f"{what}: expected one well-formed CBOR item, got error {exc}") from exc
    if stream.tell() != len(data):
        raise CodeFormatError(
            reason,
            f"{what}: expected one CBOR item of {len(data)} bytes, got {len(data) - stream.tell()} trailing bytes",
        )
    return item


def sig_structure(protected: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """ToBeSigned = CBOR ["Signature1", body_protected, external_aad, payload] (RFC 9052 §4.4)."""
    return cbor2.dumps(["Signature1", protected, external_aad, payload])


# -- COSE_Sign1 -------------------------------------------------------------------------------------


def encode_sign1(payload: bytes, *, kid: bytes, alg: int, sign: Callable[[bytes], bytes]) -> bytes:
    """A tagged COSE_Sign1 with protected header {1: alg, 4: kid} and an empty unprotected header.

    ``sign`` receives the ToBeSigned bytes (RFC 9052 §4.4). For ES256 it returns the DER signature that
    ``cryptography`` produces, which is converted here to the raw r || s COSE requires (RFC 9053 §2.1).
    """
    if alg not in SUPPORTED_ALGS:
        raise CodeFormatError(
            Rejection.ALGORITHM_UNSUPPORTED, f"expected one of {sorted(SUPPORTED_ALGS)}, got alg {alg}"
        )
    protected = cbor2.dumps({HEADER_ALG: alg, HEADER_KID: kid}, canonical=True)
    signature = sign(sig_structure(protected, payload))
    if alg == ALG_ES256:
        signature = es256_raw_signature(signature)
    return cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, [protected, {}, payload, signature]))


def _unwrap_tags(item: Any) -> Any:
    """Accept untagged, tag 18, and tag 61 around tag 18 (RFC 8392 §6); any other tag is not a Sign1."""
    if isinstance(item, cbor2.CBORTag) and item.tag == TAG_CWT:
        item = item.value
        if not (isinstance(item, cbor2.CBORTag) and item.tag == TAG_COSE_SIGN1):
            raise CodeFormatError(
                Rejection.MALFORMED_COSE, "expected tag 18 inside CWT tag 61, got something else"
            )
    if isinstance(item, cbor2.CBORTag):
        if item.tag != TAG_COSE_SIGN1:
            raise CodeFormatError(
                Rejection.MALFORMED_COSE, f"expected CBOR tag {TAG_COSE_SIGN1}, got tag {item.tag}"
            )
        item = item.value
    return item


def _header(headers: Mapping[Any, Any], label: int, kind: type, where: str) -> Any:
    value = headers.get(label)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise CodeFormatError(
            Rejection.MALFORMED_COSE,
            f"{where} header {label}: expected {kind.__name__}, got {type(value).__name__}",
        )
    return value


def decode_sign1(data: bytes) -> Sign1:
    """Parse a COSE_Sign1 (RFC 9052 §4.2), tagged or not; kid and alg come from the protected header first."""
    item = _unwrap_tags(_cbor_item(data, Rejection.MALFORMED_COSE, "COSE_Sign1"))
    # cbor2 decodes an array inside a tag as a tuple (tag contents are immutable), a bare one as a list.
    if not isinstance(item, list | tuple) or len(item) != 4:
        shape = f"array of {len(item)}" if isinstance(item, list | tuple) else type(item).__name__
        raise CodeFormatError(Rejection.MALFORMED_COSE, f"expected an array of 4 elements, got {shape}")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes):
        raise CodeFormatError(
            Rejection.MALFORMED_COSE, f"protected header: expected bstr, got {type(protected_bytes).__name__}"
        )
    # RFC 9052 §3: an empty protected header is encoded as a zero-length bstr.
    protected = (
        _cbor_item(protected_bytes, Rejection.MALFORMED_COSE, "protected header") if protected_bytes else {}
    )
    if not isinstance(protected, Mapping) or not isinstance(unprotected, Mapping):
        raise CodeFormatError(Rejection.MALFORMED_COSE, "headers: expected two maps")
    if not isinstance(payload, bytes):
        # nil would be a detached payload (RFC 9052 §4.1), which a self-contained code never is.
        raise CodeFormatError(
            Rejection.MALFORMED_COSE, f"payload: expected bstr, got {type(payload).__name__}"
        )
    if not isinstance(signature, bytes):
        raise CodeFormatError(
            Rejection.MALFORMED_COSE, f"signature: expected bstr, got {type(signature).__name__}"
        )
    kid = _header(protected, HEADER_KID, bytes, "protected")
    if kid is None:
        kid = _header(unprotected, HEADER_KID, bytes, "unprotected")
    alg = _header(protected, HEADER_ALG, int, "protected")
    if alg is None:
        alg = _header(unprotected, HEADER_ALG, int, "unprotected")
    return Sign1(
        protected=dict(protected),
        unprotected=dict(unprotected),
        payload=payload,
        signature=signature,
        to_be_signed=sig_structure(protected_bytes, payload),
        kid=kid,
        alg=alg,
    )


def es256_raw_signature(der: bytes) -> bytes:
    """DER ECDSA-Sig-Value to the fixed 64-byte r || s of RFC 9053 §2.1."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(_ES256_COORDINATE, "big") + s.to_bytes(_ES256_COORDINATE, "big")


def _check_key(alg: int | None, public_key: PublicKey) -> None:
    if alg is None:
        raise CodeFormatError(Rejection.MALFORMED_COSE, "expected an alg header (label 1), got none")
    if alg not in SUPPORTED_ALGS:
        raise CodeFormatError(
            Rejection.ALGORITHM_UNSUPPORTED, f"expected one of {sorted(SUPPORTED_ALGS)}, got alg {alg}"
        )
    fits = {
        ALG_EDDSA: isinstance(public_key, Ed25519PublicKey),
        ALG_ES256: isinstance(public_key, ec.EllipticCurvePublicKey)
        and isinstance(public_key.curve, ec.SECP256R1),
        ALG_PS256: isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= _MIN_RSA_BITS,
    }[alg]
    if not fits:
        raise CodeFormatError(
            Rejection.ALGORITHM_MISMATCH, f"alg {alg} does not fit a {_describe(public_key)} key"
        )


def _describe(public_key: PublicKey) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}"
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}-bit"
    return "Ed25519"


def verify_sign1(sign1: Sign1, public_key: PublicKey) -> bool:
    """True when the signature verifies over ``sign1.to_be_signed`` with ``public_key``.

    An alg header the key was not made for raises ``algorithm_mismatch``; an unknown alg raises
    ``algorithm_unsupported``. A wrong or wrongly sized signature is ``False``.
    """
    _check_key(sign1.alg, public_key)
    signature, message = sign1.signature, sign1.to_be_signed
    try:
        if isinstance(public_key, Ed25519PublicKey):
            public_key.verify(signature, message)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if len(signature) != 2 * _ES256_COORDINATE:
                return False
            r = int.from_bytes(signature[:_ES256_COORDINATE], "big")
            s = int.from_bytes(signature[_ES256_COORDINATE:], "big")
            public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        else:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            public_key.verify(signature, message, pss, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# -- keys -------------------------------------------------------------------------------------------


def kid_for(public_key: PublicKey) -> bytes:
    """Key id: the first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7)."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:8]


def alg_for(private_key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> int:
    """The COSE alg a civicpass issuer key signs with: EdDSA for Ed25519, ES256 for P-256."""
    if isinstance(private_key, Ed25519PrivateKey):
        return ALG_EDDSA
    if isinstance(private_key.curve, ec.SECP256R1):
        return ALG_ES256
    raise CodeFormatError(
        Rejection.ALGORITHM_UNSUPPORTED, f"expected an Ed25519 or P-256 key, got EC {private_key.curve.name}"
    )


def signer_for(private_key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    """The ``sign`` callable :func:`encode_sign1` expects for this key (ES256 returns DER)."""
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key.sign
    alg_for(private_key)
    return lambda message: private_key.sign(message, ec.ECDSA(hashes.SHA256()))


# -- CWT --------------------------------------------------------------------------------------------


def decode_cwt(payload: bytes) -> dict[Any, Any]:
    """The CWT claims set: exactly one CBOR map (RFC 8392 §7.2)."""
    claims = _cbor_item(payload, Rejection.MALFORMED_CBOR, "CWT claims")
    if not isinstance(claims, dict):
        raise CodeFormatError(
            Rejection.MALFORMED_CBOR, f"CWT claims: expected a map, got {type(claims).__name__}"
        )
    return claims


# -- text -------------------------------------------------------------------------------------------

_B45_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUE: Final = {c: i for i, c in enumerate(_B45_ALPHABET)}


def b45encode(data: bytes) -> str:
    """Base45 (RFC 9285 §4): each 2 bytes n = a*256 + b become c + d*45 + e*45², a lone last byte c + d*45."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, rest = divmod(n, 45 * 45)
        d, c = divmod(rest, 45)
        out.append(_B45_ALPHABET[c] + _B45_ALPHABET[d] + _B45_ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(_B45_ALPHABET[c] + _B45_ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Strict Base45 decoding (RFC 9285 §4.2): only the 45 characters, no 1-char tail, no value overflow."""
    if len(text) % 3 == 1:
        raise CodeFormatError(
            Rejection.BAD_BASE45, f"expected a length of 3k or 3k+2 characters, got {len(text)}"
        )
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = text[i : i + 3]
        try:
            values = [_B45_VALUE[c] for c in chunk]
        except KeyError as exc:
            raise CodeFormatError(
                Rejection.BAD_BASE45, f"expected Base45 characters, got {exc.args[0]!r} at {i}"
            ) from None
        n = sum(v * 45**k for k, v in enumerate(values))
        width = len(chunk) - 1  # 3 characters carry 2 bytes, 2 characters carry 1
        if n >= 256**width:
            raise CodeFormatError(
                Rejection.BAD_BASE45, f"expected a value below {256**width} at {i}, got {n}"
            )
        out += n.to_bytes(width, "big")
    return bytes(out)


def inflate(data: bytes, max_inflated: int) -> bytes:
    """Inflate a zlib stream (RFC 1950) without ever producing more than ``max_inflated`` bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_inflated + 1)
    except zlib.error as exc:
        raise CodeFormatError(
            Rejection.DECOMPRESSION_FAILED, f"expected a zlib stream, got error {exc}"
        ) from exc
    if len(out) > max_inflated:
        raise CodeFormatError(
            Rejection.DECOMPRESSION_BOMB, f"expected at most {max_inflated} bytes inflated, got more"
        )
    if not inflater.eof:
        raise CodeFormatError(
            Rejection.DECOMPRESSION_FAILED, "expected a complete zlib stream, got a truncated one"
        )
    if inflater.unused_data:
        raise CodeFormatError(
            Rejection.DECOMPRESSION_FAILED,
            f"expected nothing after the zlib stream, got {len(inflater.unused_data)} bytes",
        )
    return out


def encode_text(cose: bytes, prefix: str) -> str:
    """prefix || Base45(zlib(cose)) at compression level 9."""
    return prefix + b45encode(zlib.compress(cose, 9))


def unprefix(text: str, prefix: str) -> str:
    """The Base45 body after ``prefix``; a missing or different prefix is ``bad_prefix``."""
    if not prefix:
        raise ValueError("a code prefix must not be empty")
    if not text.startswith(prefix):
        raise CodeFormatError(
            Rejection.BAD_PREFIX, f"expected text starting {prefix!r}, got {text[: len(prefix)]!r}"
        )
    return text[len(prefix) :]


def decode_text(text: str, prefix: str, *, max_inflated: int = 64 * 1024) -> bytes:
    """The COSE bytes of a code text: strip the prefix, Base45-decode, inflate with an output limit."""
    return inflate(b45decode(unprefix(text, prefix)), max_inflated)
