"""Staff accounts: a role and a jurisdiction (a GB/T 2260 subtree) per account."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from civicpass.domain.errors import FieldError, InvalidInput, Message


class Role(StrEnum):
    CHECKPOINT_OPERATOR = "checkpoint_operator"
    VENUE_OPERATOR = "venue_operator"
    LAB = "lab"
    CDC = "cdc"
    COMMUNITY_WORKER = "community_worker"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True)
class StaffMember:
    id: str
    username: str
    display_name: str
    role: Role
    jurisdiction: str
    password_hash: str
    active: bool
    created_at: datetime


_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD_LENGTH = 12


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "username_invalid",
            Message(
                "a username has 3-64 lower-case letters, digits, '.', '_' or '-'",
                "用户名应为3至64位小写字母、数字或 . _ -",
            ),
            errors=[FieldError(("username",), "username_invalid", "3-64 of a-z 0-9 . _ -")],
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_too_short",
            Message(
                f"a password has at least {MIN_PASSWORD_LENGTH} characters",
                f"密码至少{MIN_PASSWORD_LENGTH}位",
            ),
            errors=[
                FieldError(("password",), "password_too_short", f"at least {MIN_PASSWORD_LENGTH} characters")
            ],
        )
    return password
