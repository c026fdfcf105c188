"""Keyed pseudonyms for identifiers that must stay linkable but never be stored raw (for
example students, who are minors). HMAC-SHA256 with a secret the operator holds: the same
identifier always maps to the same pseudonym within a tenant, and without the key it cannot
be reversed or checked by trying likely identifiers.

Each tenant has its own key, derived from the master key, so the same student id in two
tenants gets two unrelated pseudonyms: tenants cannot link their students. Tenant
'default' keeps the master key itself, so pseudonyms it stored before per-tenant keys
still match."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from odlar.core.config import get_settings
from odlar.core.store import DEFAULT_TENANT

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
    """The master key (ODLAR_PSEUDONYM_KEY, or the key file)."""
    settings = get_settings()
    return _key(str(settings.home), settings.pseudonym_key)


def tenant_key(tenant: str) -> bytes:
    """The tenant's own key: HMAC of the master key over a label and the tenant id (a
    PRF-based derivation, as in NIST SP 800-108); the master key for tenant 'default'."""
    master = key()
    return master if tenant == DEFAULT_TENANT else _derived(master, tenant)


@lru_cache(maxsize=256)
def _derived(master: bytes, tenant: str) -> bytes:
    return hmac.new(master, b"odlar pseudonyms of tenant\x00" + tenant.encode(), "sha256").digest()


# The tenant whose pseudonyms are made: loaders and task code that pseudonymise take no
# tenant, so the callers that act for one (uploads, jobs, predictions) set it around them.
_TENANT: ContextVar[str] = ContextVar("odlar_pseudonym_tenant", default=DEFAULT_TENANT)


@contextmanager
def tenant_scope(tenant: str) -> Iterator[None]:
    """Pseudonyms made inside are those of `tenant`."""
    token = _TENANT.set(tenant)
    try:
        yield
    finally:
        _TENANT.reset(token)


def pseudonym(identifier: str, *, tenant: str | None = None) -> str:
    """A stable pseudonym in `tenant` (default: the tenant of the current `tenant_scope`);
    an identifier that already is one is returned unchanged."""
    identifier = str(identifier).strip()
    if is_pseudonym(identifier):
        return identifier
    secret = tenant_key(_TENANT.get() if tenant is None else tenant)
    digest = hmac.new(secret, identifier.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:20]


def is_pseudonym(value: str) -> bool:
    return (
        len(value) == len(PREFIX) + 20
        and value.startswith(PREFIX)
        and all(c in "0123456789abcdef" for c in value[len(PREFIX) :])
    )
