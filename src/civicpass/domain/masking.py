"""Masked display of personal data for staff-facing listings (张*三, 4401**********123X)."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """Keep the first and last character: 张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明, John Smith -> J********h."""
    text = name.strip()
    if len(text) <= 1:
        return "*"
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def mask_document(number: str | None) -> str | None:
    """Keep the first 4 and last 4 characters of long numbers, the last 2 of short ones."""
    if number is None:
        return None
    if len(number) >= 12:
        return number[:4] + "*" * (len(number) - 8) + number[-4:]
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 2) + number[-2:]


def mask_phone(phone: str) -> str:
    """138****5678 for an 11-digit mobile number; other lengths keep the last 4 characters."""
    digits = phone.strip()
    if len(digits) == 11:
        return digits[:3] + "****" + digits[-4:]
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]
