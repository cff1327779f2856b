"""Rendering codes: QR symbols with segno, printable offline-code pages as SVG and PDF (reportlab).

The QR is version-auto, error correction Q, alphanumeric mode: ``CP1:`` and the Base45 alphabet are
exactly QR's alphanumeric set (RFC 9285 §4), which packs 5.5 bits per character. SVGs are cached per token.
"""

from __future__ import annotations

import io
from functools import lru_cache
from html import escape

import segno
from reportlab.lib.pagesizes import A5
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

COLORS = {"green": "#1a9b48", "yellow": "#e8b400", "red": "#d7263d"}
ZH_COLORS = {"green": "绿码", "yellow": "黄码", "red": "红码"}
_CJK_FONT = "STSong-Light"


def qr(token: str) -> segno.QRCode:
    return segno.make_qr(token, error="q", mode="alphanumeric", boost_error=False)


@lru_cache(maxsize=4096)
def qr_svg(token: str, scale: int = 4) -> str:
    """A standalone SVG of the token's QR symbol (cached: a token never changes)."""
    buffer = io.BytesIO()
    qr(token).save(buffer, kind="svg", scale=scale, border=4, xmldecl=False)
    return buffer.getvalue().decode()


def qr_png(token: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    qr(token).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def offline_page_svg(token: str, masked_name: str, color: str, valid_until: str, issuer: str) -> str:
    """A printable page (A5-like proportions): masked name, color, validity, the QR, and the assurance note."""
    symbol = qr(token)
    modules = symbol.symbol_size(scale=1, border=4)[0]
    size = 300
    scale = size / modules
    rects = "".join(
        f'<rect x="{x * scale:.2f}" y="{y * scale:.2f}" width="{scale:.2f}" height="{scale:.2f}"/>'
        for y, row in enumerate(symbol.matrix_iter(scale=1, border=4))
        for x, dark in enumerate(row)
        if dark
    )
    fill = COLORS.get(color, "#666666")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="420" height="595" viewBox="0 0 420 595">'
        '<rect width="420" height="595" fill="#ffffff"/>'
        f'<text x="210" y="48" font-size="22" text-anchor="middle">{escape(issuer)}</text>'
        f'<text x="210" y="84" font-size="20" text-anchor="middle">{escape(masked_name)}</text>'
        f'<rect x="40" y="104" width="340" height="340" fill="{fill}" rx="12"/>'
        f'<g transform="translate(60,124)"><rect width="{size}" height="{size}" fill="#ffffff"/>{rects}</g>'
        f'<text x="210" y="478" font-size="20" text-anchor="middle">{escape(ZH_COLORS.get(color, color))} / {escape(color)}</text>'
        f'<text x="210" y="510" font-size="14" text-anchor="middle">有效期至 valid until {escape(valid_until)}</text>'
        '<text x="210" y="540" font-size="12" text-anchor="middle">离线码 · 低保障等级 · offline code, lower assurance</text>'
        "</svg>"
    )


def offline_page_pdf(token: str, masked_name: str, color: str, valid_until: str, issuer: str) -> bytes:
    """The same page as a PDF (A5) with a CJK font every PDF reader has (no font files needed)."""
    if _CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A5, invariant=True)
    width, height = A5
    page.setFont(_CJK_FONT, 16)
    page.drawCentredString(width / 2, height - 50, issuer)
    page.drawCentredString(width / 2, height - 78, masked_name)
    symbol = qr(token)
    matrix = list(symbol.matrix_iter(scale=1, border=4))
    side = 240.0
    cell = side / len(matrix)
    left, top = (width - side) / 2, height - 110
    page.setFillColor(COLORS.get(color, "#666666"))
    page.roundRect(left - 14, top - side - 14, side + 28, side + 28, 8, stroke=0, fill=1)
    page.setFillColor("#ffffff")
    page.rect(left, top - side, side, side, stroke=0, fill=1)
    page.setFillColor("#000000")
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                page.rect(left + x * cell, top - (y + 1) * cell, cell, cell, stroke=0, fill=1)
    page.setFont(_CJK_FONT, 14)
    page.drawCentredString(width / 2, top - side - 40, f"{ZH_COLORS.get(color, color)} / {color}")
    page.setFont(_CJK_FONT, 11)
    page.drawCentredString(width / 2, top - side - 62, f"有效期至 valid until {valid_until}")
    page.drawCentredString(width / 2, top - side - 82, "离线码 · 低保障等级 · offline code, lower assurance")
    page.showPage()
    page.save()
    return buffer.getvalue()
