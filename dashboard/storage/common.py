"""What every part of the data folder shares: ids, safe names, atomic JSON, the machine's name."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
from pathlib import Path

logger = logging.getLogger(__name__)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def host_name() -> str:
    """This machine's name, safe as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def new_id() -> str:
    """An unguessable id (96 random bits)."""
    return secrets.token_urlsafe(12)


def check_id(value: str) -> str:
    """The id itself, or KeyError when it is not a well-formed id."""
    if not isinstance(value, str) or not _ID.match(value):
        raise KeyError(value)
    return value


def _safe_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def _write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def process_alive(pid) -> bool:
    """Whether a process with this pid runs (and is not a zombie)."""
    if not pid:
        return False
    try:
        import psutil

        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except Exception:  # no such process, or no access to it
        return False
