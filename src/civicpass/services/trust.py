"""This instance's trust list: its issuer keys that can still verify a code, signed for verifiers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from civicpass.domain.trustlist import Issuer, KeyStatus, TrustList
from civicpass.domain.venues import STATIC_CODE_LIFETIME
from civicpass.services.context import Deps

IDENTITY_COLORS = {"green": "green", "yellow": "yellow", "red": "red"}


def longest_code(deps: Deps) -> timedelta:
    """How long a code signed now may stay valid: how long a retired key must stay verifiable.

    Printed static venue codes live for years, so a retired key stays listed (as retired) that long;
    revocation, not retirement, is how a key stops verifying early.
    """
    return STATIC_CODE_LIFETIME + timedelta(seconds=deps.limits.code_skew_seconds)


def own_trust_list(deps: Deps) -> TrustList:
    """This instance's trust list: its issuer keys that can still verify a code, with their states."""
    with deps.uow() as uow:
        colors = uow.rulesets.active_colors()
    return _trust_list(deps, colors)


def keys_trust_list(deps: Deps) -> TrustList:
    """The same keys without the active rule set's colors (no database read): enough for venue codes."""
    return _trust_list(deps, ())


def _trust_list(deps: Deps, colors: Iterable[str]) -> TrustList:
    now = deps.clock.now().replace(microsecond=0)
    keys = tuple(
        k
        for k in deps.keystore.issuer_keys()
        if k.status is KeyStatus.REVOKED or k.not_after is None or k.not_after > now
    )
    issuer = Issuer(
        deps.issuer.id,
        deps.issuer.names,
        deps.issuer.region,
        keys,
        {**IDENTITY_COLORS, **{c: c for c in colors}},
    )
    return TrustList(
        version=deps.keystore.generation,
        issued_at=now,
        expires_at=now + timedelta(hours=deps.limits.trust_list_hours),
        issuers=(issuer,),
    )


def signed_trust_list(deps: Deps) -> dict[str, Any]:
    """The trust list as published: the document, the instance's signature over its RFC 8785 form, the key."""
    document = own_trust_list(deps).as_document()
    return {
        "trust_list": document,
        "signature": deps.signer.sign_document(document),
        "algorithm": "Ed25519 over RFC 8785 canonical JSON of 'trust_list'",
        "key_id": deps.signer.key_id,
        "public_key": deps.signer.public_key(),
    }
