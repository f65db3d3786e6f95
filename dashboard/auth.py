"""Optional login: HTTP basic auth against an htpasswd file (XRAY_HEAL_USERS).

Entries are ``name:hash`` lines as Apache's ``htpasswd`` writes them, with
bcrypt (``htpasswd -B``) or SHA-1 (``htpasswd -s``) hashes; the file is
checked line by line at startup. Without the file the dashboard is open to
whoever reaches it, and says so in its header.

Basic auth sends the password with every request, and a bcrypt check costs
about 0.25 s at cost 12, so :class:`Login`

- checks a (user, password) pair once and then remembers it for
  :data:`VERIFIED_S` seconds, as a keyed hash (never the password);
- makes an unknown user cost what a known one costs (a check against a
  dummy hash of the same cost), so timing does not tell which names exist;
- answers an address with :data:`MAX_FAILURES` failed checks within
  :data:`FAILURE_WINDOW_S` with 429 and no check, until the window passes
  (pairs already verified still pass: a flood does not lock users out).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from pathlib import Path

from flask import Response, request

#: Paths served without login (load balancers' health checks).
PUBLIC = ("/healthz",)
#: Seconds a verified (user, password) pair is trusted without a new hash check.
VERIFIED_S = 600.0
#: Failed checks from one address within the window before it gets 429.
MAX_FAILURES = 10
FAILURE_WINDOW_S = 60.0

_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")


def load_users(path: str | Path) -> dict[str, str]:
    """{name: password hash} of an htpasswd file; SystemExit with a sentence if unusable."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"xray-heal: XRAY_HEAL_USERS={path}: {getattr(exc, 'strerror', None) or exc}") from None
    users = {}
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.startswith("#"):
            name, sep, hashed = line.strip().partition(":")
            if not sep or not name or not _usable_hash(hashed):
                raise SystemExit(f"xray-heal: XRAY_HEAL_USERS={path}: line {number} is not name:hash with a "
                                 "bcrypt (htpasswd -B) or {SHA} (htpasswd -s) hash")
            users[name] = hashed
    if not users:
        raise SystemExit(f"xray-heal: XRAY_HEAL_USERS={path} lists no users")
    return users


def _usable_hash(hashed: str) -> bool:
    """Whether an htpasswd hash is one :func:`check_password` can check."""
    if hashed.startswith("{SHA}"):
        try:
            return len(base64.b64decode(hashed[5:], validate=True)) == 20
        except (binascii.Error, ValueError):
            return False
    return bool(_BCRYPT.match(hashed))


def check_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches an htpasswd hash (bcrypt or {SHA}).

    A password bcrypt cannot take (over 72 bytes) does not match.
    """
    if hashed.startswith(("$2y$", "$2b$", "$2a$")):
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode(), hashed.replace("$2y$", "$2b$", 1).encode())
        except ValueError:  # bcrypt refuses passwords over 72 bytes
            return False
    if hashed.startswith("{SHA}"):
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        return hmac.compare_digest(digest, hashed[5:])
    return False


def _dummy_hash(users: dict[str, str]) -> str:
    """A hash of a random password that costs as much to check as the users' dearest."""
    costs = [int(m.group(1)) for m in map(_BCRYPT.match, users.values()) if m]
    if not costs:
        return "{SHA}" + base64.b64encode(hashlib.sha1(secrets.token_bytes(16)).digest()).decode()
    import bcrypt

    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=max(costs))).decode()


class Login:
    """Checks of user names and passwords, remembered and rate-limited (see the module)."""

    def __init__(self, users: dict[str, str], clock=time.monotonic):
        self.users = users
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._dummy = _dummy_hash(users)
        self._verified: dict[bytes, float] = {}
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _token(self, name: str, password: str) -> bytes:
        return hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()

    def check(self, name: str, password: str, address: str) -> int:
        """HTTP status of a login attempt: 200 (valid), 401 (not) or 429 (too many failures)."""
        now = self.clock()
        token = self._token(name, password)
        with self._lock:
            if self._verified.get(token, 0.0) > now:
                return 200
            failures = self._failures.setdefault(address, deque())
            while failures and failures[0] <= now - FAILURE_WINDOW_S:
                failures.popleft()
            if len(failures) >= MAX_FAILURES:
                return 429
        ok = check_password(self.users.get(name, self._dummy), password) and name in self.users
        with self._lock:
            if ok:
                self._verified[token] = now + VERIFIED_S
                self._verified = {t: end for t, end in self._verified.items() if end > now}
            else:
                self._failures[address].append(now)
        return 200 if ok else 401


def current_user() -> str | None:
    """The logged-in user of the request being served, if login is on."""
    auth = request.authorization if request else None
    return auth.username if auth and auth.type == "basic" else None


def callback_user() -> str | None:
    """The logged-in user of the request that started a callback, background ones too
    (Dash hands the request's headers to the job; the request passed the login)."""
    from dash import callback_context
    from werkzeug.datastructures import Authorization

    headers = {k.lower(): v for k, v in (callback_context.headers or {}).items()}
    auth = Authorization.from_header(headers.get("authorization"))
    return auth.username if auth and auth.type == "basic" else None


def require_login(server, users: dict[str, str]) -> Login:
    """Refuse every request (but :data:`PUBLIC` paths) without a valid user and password."""
    login = Login(users)

    @server.before_request
    def _login():
        if request.path in PUBLIC:
            return None
        auth = request.authorization
        status = login.check(auth.username or "", auth.password or "", request.remote_addr or "") \
            if auth and auth.type == "basic" else 401
        if status == 200:
            return None
        if status == 429:
            return Response("Too many failed logins from this address; try again in a minute.", 429,
                            {"Retry-After": str(int(FAILURE_WINDOW_S))})
        return Response("Log in to use xray-heal.", 401, {"WWW-Authenticate": 'Basic realm="xray-heal"'})
    return login
