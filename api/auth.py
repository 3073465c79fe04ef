"""API keys with roles: ``Authorization: Bearer <key>``.

Keys come from ``DISPATCH_API_KEYS="k1=ops,k2=order-service+analyst,k3=courier-app@w1|w2"``
(or a file with one such entry per line, ``#`` starts a comment). ``@w1|w2`` binds
a courier-app key to those workers. A missing or unknown key is 401 with a
``WWW-Authenticate`` challenge; a known key without the route's role is 403.
With no keys configured the API is open (``dispatch serve`` allows that only on
a loopback host, loudly).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException
from starlette.requests import HTTPConnection

ROLES = frozenset({"ops", "order-service", "courier-app", "analyst"})
CHALLENGE = 'Bearer realm="dispatch"'


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's label (never the key itself), its roles and bound workers."""

    key_id: str
    roles: frozenset[str]
    workers: frozenset[str] | None = None  # courier-app keys may be bound to workers

    def may_act_for(self, worker_id: str) -> bool:
        return self.workers is None or worker_id in self.workers


OPEN = Principal("open", ROLES)


def parse_keys(spec: str) -> dict[str, Principal]:
    """Parse the key specification; raises ValueError naming the bad entry (not the key)."""
    keys: dict[str, Principal] = {}
    entries = [x.strip() for x in spec.replace("\n", ",").split(",")]
    for n, raw in enumerate((x for x in entries if x and not x.startswith("#")), start=1):
        key, sep, rest = raw.partition("=")
        key = key.strip()
        if not sep or not key or not rest.strip():
            raise ValueError(f"API key entry {n} must look like key=role[+role][@w1|w2]")
        roles_part, at, bound = rest.partition("@")
        roles = frozenset(r.strip() for r in roles_part.split("+") if r.strip())
        if not roles or roles - ROLES:
            raise ValueError(
                f"API key entry {n}: unknown roles {sorted(roles - ROLES)}; known: {sorted(ROLES)}"
            )
        workers = frozenset(w.strip() for w in bound.split("|") if w.strip()) if at else None
        if at and (not workers or roles != {"courier-app"}):
            raise ValueError(f"API key entry {n}: only courier-app keys bind to worker ids")
        if key in keys:
            raise ValueError(f"API key entry {n} repeats an earlier key")
        keys[key] = Principal(f"key{n}", roles, workers)
    return keys


def load_keys(spec: str, file: Path | None) -> dict[str, Principal]:
    """Keys from the environment string and, when given, a file."""
    text = spec
    if file is not None:
        text = text + "\n" + file.read_text(encoding="utf-8")
    return parse_keys(text)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class Authenticator:
    """Resolves a bearer key to a Principal; compares keys in constant time."""

    def __init__(self, keys: dict[str, Principal]) -> None:
        self._keys = [(_digest(k), p) for k, p in keys.items()]

    @property
    def open(self) -> bool:
        return not self._keys

    def resolve(self, token: str | None) -> Principal:
        if self.open:
            return OPEN
        if not token:
            raise HTTPException(401, "missing API key", headers={"WWW-Authenticate": CHALLENGE})
        # Compare digests with every key, without stopping at a match: the time taken
        # tells nothing about which key (or how much of one) was right.
        wanted = _digest(token)
        found: Principal | None = None
        for digest, principal in self._keys:
            if hmac.compare_digest(digest, wanted):
                found = principal
        if found is None:
            raise HTTPException(
                401,
                "invalid API key",
                headers={"WWW-Authenticate": CHALLENGE + ', error="invalid_token"'},
            )
        return found

    def from_connection(self, conn: HTTPConnection, *, query_token: bool = False) -> Principal:
        """The caller of a request, or of a WebSocket (which may also use ``?token=``)."""
        return self.resolve(connection_token(conn, query_token=query_token))


#: A WebSocket subprotocol carrying the key (browsers cannot set headers on sockets).
BEARER_PROTOCOL = "bearer."


def offered_protocols(conn: HTTPConnection) -> list[str]:
    """The subprotocols a WebSocket client offered, in order."""
    raw = conn.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def connection_token(conn: HTTPConnection, *, query_token: bool = False) -> str | None:
    """The key of a request: ``Authorization: Bearer``; for WebSockets also a
    ``bearer.<key>`` subprotocol, or ``?token=`` (kept for old clients; redacted in logs)."""
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        token = ""
    if not token and conn.scope["type"] == "websocket":
        for offered in offered_protocols(conn):
            if offered.startswith(BEARER_PROTOCOL):
                token = offered.removeprefix(BEARER_PROTOCOL)
                break
    if not token and query_token:
        token = conn.query_params.get("token", "")
    return token.strip() or None


def check_role(principal: Principal, roles: frozenset[str]) -> None:
    """403 unless the principal holds one of ``roles``."""
    if not principal.roles & roles:
        raise HTTPException(403, f"this key lacks the role: one of {sorted(roles)} is needed")


def check_worker(principal: Principal, worker_id: str) -> None:
    """403 when a worker-bound key acts for another worker."""
    if not principal.may_act_for(worker_id):
        raise HTTPException(403, f"this key may not act for worker {worker_id}")
