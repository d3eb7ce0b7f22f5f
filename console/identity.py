"""Who may use the console: users with hashed passwords, API tokens stored as SHA-256 digests, and two roles.

Pure values and checks, no Flask: `User.check_password` wraps werkzeug's salted scrypt/pbkdf2 hashes, and
`find_token` compares a presented bearer token's SHA-256 with every configured digest in constant time. Nothing
here ever holds a plaintext password or token longer than the call that checks it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from console.errors import ConfigError

__all__ = [
    "ApiToken",
    "Principal",
    "Role",
    "User",
    "check_login",
    "find_token",
    "hash_password",
    "hash_token",
    "new_token",
    "parse_tokens",
    "parse_users",
]

_HASH_METHODS = ("scrypt:", "pbkdf2:")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class Role(StrEnum):
    """A viewer reads everything; an editor also changes flags, kill switches and rollouts."""

    VIEWER = "viewer"
    EDITOR = "editor"

    def allows(self, needed: Role) -> bool:
        return self is Role.EDITOR or needed is Role.VIEWER


@dataclass(frozen=True, slots=True)
class User:
    """A console user from configuration; `password_hash` is werkzeug's `method$salt$hash` form."""

    name: str
    role: Role
    password_hash: str

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A bearer token for the JSON API, known only by the SHA-256 hex digest of its value."""

    name: str
    role: Role
    sha256: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever is making the request: a logged-in user or an API token. `name` is the actor in the audit trail."""

    name: str
    role: Role
    kind: str  # "user" or "token"

    @property
    def actor(self) -> str:
        return self.name if self.kind == "user" else f"token:{self.name}"


def hash_password(password: str) -> str:
    """A salted scrypt hash for a users file (what `cloudops console hash-password` prints)."""
    if not password:
        raise ValueError("an empty password cannot be hashed: choose one")
    return generate_password_hash(password, method="scrypt")


def hash_token(token: str) -> str:
    """The SHA-256 hex digest a token is configured by (tokens are long and random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random API token (256 bits)."""
    return "cop_" + secrets.token_urlsafe(32)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when a login names an unknown user, so a wrong name costs as long as a wrong password."""
    return generate_password_hash(secrets.token_hex(16), method="scrypt")


def check_login(users: Mapping[str, User], name: str, password: str) -> User | None:
    """The user when the name and password match, else None (taking the same time for an unknown name)."""
    user = users.get(name)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


def find_token(tokens: Iterable[ApiToken], presented: str) -> ApiToken | None:
    """The configured token whose digest matches `presented`, comparing with every one in constant time."""
    digest = hash_token(presented)
    found = None
    for token in tokens:
        if hmac.compare_digest(token.sha256, digest):
            found = token
    return found


def _role(raw: Any, where: str) -> Role:
    try:
        return Role(str(raw))
    except ValueError:
        raise ConfigError(f"{where}: role must be one of {', '.join(Role)}, got {raw!r}") from None


def _entries(raw: Any, setting: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Accept either {name: {...}} or [{name: ..., ...}]."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        if not all(isinstance(e, Mapping) for e in raw):
            raise ConfigError(f"{setting} entries must be a mapping each, with a name: {{name: ..., role: ...}}")
        items = [(str(e.get("name", "")), e) for e in raw]
    else:
        raise ConfigError(f"{setting} must be a mapping of name to settings, or a list of entries with a name")
    checked = []
    for name, entry in items:
        if not _NAME.match(name):
            raise ConfigError(f"{setting}: invalid name {name!r} (1-64 letters, digits and _ . @ -)")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{setting}.{name} must be a mapping (role, and a hash)")
        checked.append((name, entry))
    return checked


def parse_users(raw: Any) -> dict[str, User]:
    """Users from configuration; refuses anything that is not a werkzeug scrypt or pbkdf2 hash."""
    users = {}
    for name, entry in _entries(raw, "USERS"):
        password_hash = str(entry.get("password_hash") or "")
        if not password_hash.startswith(_HASH_METHODS) or password_hash.count("$") != 2:
            raise ConfigError(
                f"USERS.{name}.password_hash is not a scrypt or pbkdf2 hash (a plaintext password?): "
                "create one with `cloudops console hash-password`"
            )
        users[name] = User(
            name=name, role=_role(entry.get("role", Role.VIEWER.value), f"USERS.{name}"), password_hash=password_hash
        )
    return users


def parse_tokens(raw: Any) -> tuple[ApiToken, ...]:
    """API tokens from configuration, each as the SHA-256 hex digest of its value."""
    tokens = []
    for name, entry in _entries(raw, "TOKENS"):
        digest = str(entry.get("sha256") or "").lower()
        if not _SHA256.match(digest):
            raise ConfigError(
                f"TOKENS.{name}.sha256 must be the 64-hex-digit SHA-256 of the token: "
                "create a token and its digest with `cloudops console new-token`"
            )
        tokens.append(
            ApiToken(name=name, role=_role(entry.get("role", Role.VIEWER.value), f"TOKENS.{name}"), sha256=digest)
        )
    return tuple(tokens)
