"""Rendering codes (adapters/render.py): QR symbols that scan back to the token, printable offline pages.

A scanner is the judge of a QR symbol: the PNGs here are decoded with zxing-cpp and must give back exactly
the token. The symbol parameters (error correction Q, alphanumeric mode) are read from segno's QRCode.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from civicpass.adapters import render
from civicpass.adapters.codes import CoseCodeCodec
from civicpass.adapters.crypto.cose import signer_for
from civicpass.adapters.crypto.keystore import SigningKey, kid_of
from civicpass.domain.codes import CodeClaims, CodeKind

SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(text: str) -> ET.Element:
    """Parse an SVG this instance rendered (our own output, so the stdlib parser is safe here)."""
    return ET.fromstring(text)  # noqa: S314 - parses our own rendering, not untrusted input


KEY = Ed25519PrivateKey.from_private_bytes(b"\x44" * 32)
ISSUED_AT = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)


def _token(kind: CodeKind = CodeKind.OFFLINE, color: str = "green") -> str:
    claims = CodeClaims(
        issuer="CN-TEST",
        subject="cmFuZG9tLXN1YmplY3Q",
        issued_at=ISSUED_AT,
        expires_at=ISSUED_AT + timedelta(days=7),
        nonce=bytes(range(16)),
        color=color,
        status_version=12,
        kind=kind,
    )
    return CoseCodeCodec().issue(claims, SigningKey(kid_of(KEY), "EdDSA", -8, signer_for(KEY)))


TOKEN = _token()
PAGE = {"masked_name": "张*三", "color": "yellow", "valid_until": "2022-05-10 16:00", "issuer": "测试签发方"}


def _scan(png: bytes) -> zxingcpp.Barcode:
    found = zxingcpp.read_barcode(Image.open(io.BytesIO(png)))
    assert found is not None, "no QR symbol found"
    return found


@pytest.mark.parametrize("kind", list(CodeKind))
def test_a_qr_png_scans_back_to_exactly_the_token(kind: CodeKind) -> None:
    token = _token(kind)
    scanned = _scan(render.qr_png(token))
    assert scanned.format == zxingcpp.BarcodeFormat.QRCode
    assert scanned.text == token
    assert scanned.ec_level == "Q"


def test_a_small_qr_png_still_scans() -> None:
    assert _scan(render.qr_png(TOKEN, scale=3)).text == TOKEN


def test_the_qr_symbol_uses_error_correction_q_in_alphanumeric_mode() -> None:
    symbol = render.qr(TOKEN)
    assert symbol.error == "Q"
    assert symbol.mode == "alphanumeric"
    # Alphanumeric packs 11 bits per 2 characters, so a whole code fits a small symbol.
    assert isinstance(symbol.version, int)  # a full QR symbol, never Micro QR
    assert symbol.version <= 12


def test_the_error_level_is_not_boosted_past_q() -> None:
    # segno would raise Q to H when it fits; a fixed level keeps symbols of equal size across codes.
    short = "CP1:ABC"
    assert render.qr(short).error == "Q"


def test_the_qr_svg_is_valid_xml_and_cached_per_token() -> None:
    svg = render.qr_svg(TOKEN)
    assert parse_svg(svg).tag == SVG + "svg"
    assert render.qr_svg(TOKEN) is svg
    assert render.qr_svg(_token(color="red")) != svg


def test_the_offline_page_shows_the_masked_name_color_validity_and_lower_assurance() -> None:
    svg = render.offline_page_svg(TOKEN, **PAGE)
    root = parse_svg(svg)
    assert root.tag == SVG + "svg"
    texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
    assert "张*三" in texts
    assert "测试签发方" in texts
    assert "黄码 / yellow" in texts
    assert "有效期至 valid until 2022-05-10 16:00" in texts
    assert any("offline code, lower assurance" in t and "低保障等级" in t for t in texts)
    # The color frame is painted in the code's color.
    assert any(r.get("fill") == render.COLORS["yellow"] for r in root.iter(SVG + "rect"))


def test_the_offline_page_carries_the_qr_modules_of_the_token() -> None:
    root = parse_svg(render.offline_page_svg(TOKEN, **PAGE))
    dark = sum(1 for row in render.qr(TOKEN).matrix_iter(scale=1, border=4) for cell in row if cell)
    group = next(root.iter(SVG + "g"))
    assert len(list(group.iter(SVG + "rect"))) == dark + 1  # every dark module plus the white ground


def test_the_offline_page_escapes_markup_in_names() -> None:
    svg = render.offline_page_svg(TOKEN, **{**PAGE, "masked_name": "<b>&*", "issuer": 'a"b'})
    texts = ["".join(t.itertext()) for t in parse_svg(svg).iter(SVG + "text")]
    assert "<b>&*" in texts
    assert 'a"b' in texts


def test_the_offline_page_escapes_a_rule_sets_own_color_name() -> None:
    svg = render.offline_page_svg(TOKEN, **{**PAGE, "color": "<orange>"})
    texts = ["".join(t.itertext()) for t in parse_svg(svg).iter(SVG + "text")]
    assert "<orange> / <orange>" in texts


def test_the_offline_pdf_is_a_pdf_and_the_same_for_the_same_inputs() -> None:
    pdf = render.offline_page_pdf(TOKEN, **PAGE)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert render.offline_page_pdf(TOKEN, **PAGE) == pdf
    assert render.offline_page_pdf(_token(color="red"), **PAGE) != pdf
    assert render.offline_page_pdf(TOKEN, **{**PAGE, "color": "red"}) != pdf
    # A5, in points (148 x 210 mm).
    assert b"/MediaBox [ 0 0 419.5276 595.2756 ]" in pdf
