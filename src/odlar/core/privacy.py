"""Keyed pseudonyms for identifiers that must stay linkable but never be stored raw (for
example students, who are minors). HMAC-SHA256 with a secret the operator holds: the same
identifier always maps to the same pseudonym, and without the key it cannot be reversed or
checked by trying likely identifiers."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache

from odlar.core.config import get_settings

PREFIX = "p_"


@lru_cache(maxsize=4)
def _key(home: str, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = get_settings().home.expanduser() / "pseudonym.key"
    if not path.exists():
        # O_EXCL: two processes starting together cannot each write a different key
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def key() -> bytes:
    settings = get_settings()
    return _key(str(settings.home), settings.pseudonym_key)


def pseudonym(identifier: str) -> str:
    """A stable pseudonym; an identifier that already is one is returned unchanged."""
    identifier = str(identifier).strip()
    if is_pseudonym(identifier):
        return identifier
    digest = hmac.new(key(), identifier.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:20]


def is_pseudonym(value: str) -> bool:
    return (
        len(value) == len(PREFIX) + 20
        and value.startswith(PREFIX)
        and all(c in "0123456789abcdef" for c in value[len(PREFIX) :])
    )
