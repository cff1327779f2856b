"""Field encryption (AES-256-GCM envelopes) and keyed digests (adapters/crypto/pii.py)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicpass.adapters.crypto.pii import HmacDigest, PiiCipher, PiiDecryptionError, Sha256Hmac

K1 = b"\x01" * 32
K2 = b"\x02" * 32
CONTEXT = "residents.name:00000000-0000-4000-8000-000000000001"


def _cipher() -> PiiCipher:
    return PiiCipher({"k1": K1}, "k1")


@pytest.mark.parametrize(
    "plaintext", ["张小三", "", "11010519491231002X", "广州市天河路1号 Flat 3", "x" * 10_000]
)
def test_an_encrypted_field_decrypts_to_the_same_text_in_the_same_context(plaintext: str) -> None:
    cipher = _cipher()
    assert cipher.decrypt(cipher.encrypt(plaintext, CONTEXT), CONTEXT) == plaintext


def test_an_envelope_names_its_version_and_key_and_hides_the_plaintext() -> None:
    envelope = _cipher().encrypt("张小三", CONTEXT)
    version, kid, body = envelope.split(".")
    assert (version, kid) == ("v1", "k1")
    assert "张小三" not in envelope
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_encrypting_the_same_text_twice_gives_different_envelopes() -> None:
    cipher = _cipher()
    assert cipher.encrypt("张小三", CONTEXT) != cipher.encrypt("张小三", CONTEXT)


@pytest.mark.parametrize(
    "other_context",
    [
        "residents.name:00000000-0000-4000-8000-000000000002",
        "residents.address:00000000-0000-4000-8000-000000000001",
        "",
    ],
)
def test_an_envelope_copied_to_another_row_or_column_does_not_decrypt(other_context: str) -> None:
    cipher = _cipher()
    envelope = cipher.encrypt("张小三", CONTEXT)
    with pytest.raises(PiiDecryptionError, match="does not authenticate"):
        cipher.decrypt(envelope, other_context)


def test_a_tampered_envelope_does_not_decrypt() -> None:
    cipher = _cipher()
    envelope = cipher.encrypt("张小三", CONTEXT)
    flipped = envelope[:-2] + ("A" if envelope[-2] != "A" else "B") + envelope[-1]
    with pytest.raises(PiiDecryptionError):
        cipher.decrypt(flipped, CONTEXT)


@pytest.mark.parametrize("envelope", ["", "plain text", "v1.k1", "v2.k1.AAAA", "v1.k9.AAAA"])
def test_something_that_is_not_an_envelope_of_this_keyring_does_not_decrypt(envelope: str) -> None:
    with pytest.raises(PiiDecryptionError):
        _cipher().decrypt(envelope, CONTEXT)


def test_old_envelopes_stay_readable_after_a_new_active_key_is_added() -> None:
    old = PiiCipher({"k1": K1}, "k1").encrypt("张小三", CONTEXT)
    rotated = PiiCipher({"k1": K1, "k2": K2}, "k2")
    assert rotated.decrypt(old, CONTEXT) == "张小三"
    new = rotated.encrypt("李四", CONTEXT)
    assert new.startswith("v1.k2.")
    assert rotated.decrypt(new, CONTEXT) == "李四"


def test_an_envelope_of_a_key_id_not_in_the_keyring_does_not_decrypt() -> None:
    new = PiiCipher({"k1": K1, "k2": K2}, "k2").encrypt("李四", CONTEXT)
    with pytest.raises(PiiDecryptionError, match="k2"):
        PiiCipher({"k1": K1}, "k1").decrypt(new, CONTEXT)


def test_an_envelope_under_a_reused_key_id_with_different_key_bytes_does_not_decrypt() -> None:
    envelope = PiiCipher({"k1": K1}, "k1").encrypt("张小三", CONTEXT)
    with pytest.raises(PiiDecryptionError):
        PiiCipher({"k1": K2}, "k1").decrypt(envelope, CONTEXT)


def test_the_active_key_must_be_in_the_keyring() -> None:
    with pytest.raises(ValueError, match="not in the keyring"):
        PiiCipher({"k1": K1}, "k2")


@pytest.mark.parametrize(
    ("keys", "active"),
    [
        ({"k1": b"\x01" * 16}, "k1"),
        ({"k1": b"\x01" * 33}, "k1"),
        ({"k.1": K1}, "k.1"),
        ({"k1": K1, "old": b"short"}, "k1"),
    ],
)
def test_every_key_must_be_32_bytes_with_an_id_without_dots(keys: dict[str, bytes], active: str) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PiiCipher(keys, active)


def test_keyed_digests_are_deterministic_for_the_same_key() -> None:
    assert HmacDigest(K2).blind_index("resident_id:11010519491231002X") == HmacDigest(K2).blind_index(
        "resident_id:11010519491231002X"
    )
    assert HmacDigest(K2).secret_digest("123456") == HmacDigest(K2).secret_digest("123456")


def test_keyed_digests_differ_between_keys_and_between_inputs() -> None:
    assert HmacDigest(K1).blind_index("phone:+8613800138000") != HmacDigest(K2).blind_index(
        "phone:+8613800138000"
    )
    assert HmacDigest(K1).blind_index("phone:+8613800138000") != HmacDigest(K1).blind_index(
        "phone:+8613800138001"
    )


def test_the_blind_index_and_the_secret_digest_of_the_same_input_differ() -> None:
    digest = HmacDigest(K2)
    assert digest.blind_index("123456") != digest.secret_digest("123456")


def test_digests_are_hmac_sha256_under_domain_separated_sub_keys() -> None:
    def expected(label: bytes, message: str) -> str:
        sub = hmac.new(K2, b"civicpass:" + label, hashlib.sha256).digest()
        return hmac.new(sub, message.encode(), hashlib.sha256).hexdigest()

    digest = HmacDigest(K2)
    assert digest.blind_index("resident_id:11010519491231002X") == expected(
        b"blind-index", "resident_id:11010519491231002X"
    )
    assert digest.secret_digest("123456") == expected(b"secret-digest", "123456")


def test_blind_index_golden_value_is_stable() -> None:
    # Blind indexes are stored; changing their derivation silently breaks every look-up by document or phone.
    assert HmacDigest(K2).blind_index("resident_id:11010519491231002X") == (
        "adc5eb197d00fdc9cf416f6100d2135f421db07ae7815b9673ebc16a4ec0d94e"
    )
    assert (
        HmacDigest(K2).secret_digest("123456")
        == "bb501ee6657dfed9859bf0d819b31de9363ff1daabde57e0de57acc28718031a"
    )


def test_keyed_digests_are_hmac_sha256_under_derived_keys_call_after_call() -> None:
    """The construction stored blind indexes depend on: HMAC-SHA256 under a sub-key derived by HMAC from
    the configured key, unchanged by how it is computed; one instance asked again gives the same (its
    keyed state is copied per digest, never fed)."""
    digest = HmacDigest(K2)
    for label, compute in ((b"blind-index", digest.blind_index), (b"secret-digest", digest.secret_digest)):
        sub = hmac.digest(K2, b"civicpass:" + label, "sha256")
        for text in (
            "resident_id:11010519491231002X",
            "",
            "护照:E12345678",
            "resident_id:11010519491231002X",
        ):
            assert compute(text) == hmac.digest(sub, text.encode(), "sha256").hex()


@given(
    key=st.binary(max_size=64) | st.binary(min_size=65, max_size=200),
    messages=st.lists(st.binary(max_size=300), min_size=1, max_size=4),
)
def test_the_hand_made_hmac_equals_the_standard_librarys_for_any_key_and_message(
    key: bytes, messages: list[bytes]
) -> None:
    """Keys shorter than, as long as and longer than SHA-256's 64-byte block (hashed first), each message
    digested from the same keyed states."""
    mac = Sha256Hmac(key)
    for message in messages:
        assert mac.hexdigest(message) == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_the_hand_made_hmac_gives_rfc_4231s_values() -> None:
    # RFC 4231 test cases 2 (a short key) and 6 (a key of 131 bytes, longer than the block), HMAC-SHA-256
    assert Sha256Hmac(b"Jefe").hexdigest(b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert Sha256Hmac(b"\xaa" * 131).hexdigest(b"Test Using Larger Than Block-Size Key - Hash Key First") == (
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    )
