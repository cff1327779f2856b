"""Canonical JSON (RFC 8785, JCS): what the transparency log's leaves and signed documents are made of.

The ``rfc8785`` library is the reference here; it is written in Python and walks every value itself,
which cost about half of a log append. Most documents are *plain*: objects with ASCII keys, strings,
integers within the IEEE 754 safe range, booleans, null and arrays, no floating-point numbers. For
those, RFC 8785's output is exactly what the standard library's C encoder writes with sorted keys, no
whitespace and no ASCII escaping (the same escapes, lowercase ``\\u00xx`` for other control characters;
ASCII keys sort the same by UTF-16 code units as by code points). Anything else, and any string that is
not valid UTF-8 text, goes to ``rfc8785``, so errors are the library's own. A property test compares the
two on generated documents, floats, astral keys and lone surrogates included.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_SAFE = 2**53 - 1
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE <= value <= _SAFE)
    if kind is dict:  # loops, not all() over a generator: this walk runs once per leaf
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(map(_plain, value))
    return False


def canonical_json(document: Any) -> bytes:
    """The RFC 8785 serialisation of ``document`` as UTF-8 bytes (``rfc8785.CanonicalizationError`` if none)."""
    if _plain(document):
        try:
            return _encode(document).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let the library refuse it in its own words
            pass
    return rfc8785.dumps(document)
