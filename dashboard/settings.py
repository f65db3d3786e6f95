"""Server settings from environment variables, read once per app."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dip_engine.io import DEFAULT_MAX_PIXELS


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/xray-heal, else ~/.local/share/xray-heal."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "xray-heal"


@dataclass(frozen=True)
class Settings:
    """Where the dashboard listens and keeps its files.

    Attributes
    ----------
    host, port :
        XRAY_HEAL_HOST (default 127.0.0.1), XRAY_HEAL_PORT (default 8050).
    data_dir : Path
        XRAY_HEAL_DATA: uploads, jobs and the background-callback cache.
    max_upload_mb : float
        XRAY_HEAL_MAX_UPLOAD_MB (default 512): larger uploads are refused.
    gpu_slots : int
        XRAY_HEAL_GPU_SLOTS (default 1): fits that run at once per machine; others queue.
    broker : str or None
        XRAY_HEAL_BROKER (e.g. redis://host:6379/0): run jobs on Celery
        workers (``xray-heal worker``) instead of forked local processes.
    users_file : Path or None
        XRAY_HEAL_USERS: an htpasswd file; turns on login (HTTP basic auth).
    max_pixels : int
        XRAY_HEAL_MAX_PIXELS (default 64 MP): the largest frame accepted.
    threads : int or None
        XRAY_HEAL_THREADS: torch threads of a fit on the CPU (default: every
        usable core but one).
    """

    host: str = "127.0.0.1"
    port: int = 8050
    data_dir: Path = default_data_dir()
    max_upload_mb: float = 512.0
    gpu_slots: int = 1
    broker: str | None = None
    users_file: Path | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int | None = None

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        try:
            port = int(env.get("XRAY_HEAL_PORT", 8050))
            max_mb = float(env.get("XRAY_HEAL_MAX_UPLOAD_MB", 512))
            slots = int(env.get("XRAY_HEAL_GPU_SLOTS", 1))
            max_pixels = int(env.get("XRAY_HEAL_MAX_PIXELS", DEFAULT_MAX_PIXELS))
        except ValueError as exc:
            raise SystemExit(f"xray-heal: bad setting: {exc}") from None
        threads = env.get("XRAY_HEAL_THREADS", "").strip()
        if threads and (not threads.isdigit() or int(threads) < 1):
            raise SystemExit(f"xray-heal: XRAY_HEAL_THREADS must be a whole number of threads >= 1, got {threads!r}")
        return cls(
            host=env.get("XRAY_HEAL_HOST", "127.0.0.1"),
            port=port,
            data_dir=Path(env.get("XRAY_HEAL_DATA") or default_data_dir()),
            max_upload_mb=max_mb,
            gpu_slots=max(1, slots),
            broker=env.get("XRAY_HEAL_BROKER") or None,
            users_file=Path(env["XRAY_HEAL_USERS"]) if env.get("XRAY_HEAL_USERS") else None,
            max_pixels=max_pixels,
            threads=int(threads) if threads else None,
        )
