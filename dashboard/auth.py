"""Optional login: HTTP basic auth against an htpasswd file (XRAY_HEAL_USERS).

Entries are ``name:hash`` lines as Apache's ``htpasswd`` writes them, with
bcrypt (``htpasswd -B``) or SHA-1 (``htpasswd -s``) hashes. Without the
file the dashboard is open to whoever reaches it, and says so in its header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from flask import Response, request

#: Paths served without login (load balancers' health checks).
PUBLIC = ("/healthz",)


def load_users(path: str | Path) -> dict[str, str]:
    """{name: password hash} of an htpasswd file; SystemExit with a sentence if unusable."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise SystemExit(f"xray-heal: XRAY_HEAL_USERS={path}: {exc.strerror}") from None
    users = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            name, sep, hashed = line.strip().partition(":")
            if not sep or not name:
                raise SystemExit(f"xray-heal: XRAY_HEAL_USERS={path}: a line is not name:hash")
            users[name] = hashed
    if not users:
        raise SystemExit(f"xray-heal: XRAY_HEAL_USERS={path} lists no users")
    return users


def check_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches an htpasswd hash (bcrypt or {SHA})."""
    if hashed.startswith(("$2y$", "$2b$", "$2a$")):
        import bcrypt

        return bcrypt.checkpw(password.encode(), hashed.replace("$2y$", "$2b$", 1).encode())
    if hashed.startswith("{SHA}"):
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        return hmac.compare_digest(digest, hashed[5:])
    return False  # crypt/MD5 hashes are not supported: use htpasswd -B


def current_user() -> str | None:
    """The logged-in user of the request being served, if login is on."""
    auth = request.authorization if request else None
    return auth.username if auth and auth.type == "basic" else None


def require_login(server, users: dict[str, str]) -> None:
    """Refuse every request (but :data:`PUBLIC` paths) without a valid user and password."""

    @server.before_request
    def _login():
        if request.path in PUBLIC:
            return None
        auth = request.authorization
        if auth and auth.username in users and check_password(users[auth.username], auth.password or ""):
            return None
        return Response("Log in to use xray-heal.", 401, {"WWW-Authenticate": 'Basic realm="xray-heal"'})
