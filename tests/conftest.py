"""Shared fixtures: synthetic frames, real data (optional), a live dashboard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dip_engine.synthetic import occlude, ring_pattern

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture
def rings():
    """(truth, flagged frame, mask) of a 96x96 synthetic SAXS pattern."""
    truth = ring_pattern((96, 96), seed=0)
    flagged, mask = occlude(truth)
    return truth, flagged, mask


@pytest.fixture
def shared_data():
    """../shared/data, or skip when this checkout has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium with the flags this closed network needs; never a download."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": CHROMIUM_ARGS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, log: Path, **extra_env: str) -> subprocess.Popen:
    """Start ``python -m dashboard`` (output to ``log``) and wait until /healthz answers.

    ``extra_env``: more environment variables (XRAY_HEAL_BROKER, XRAY_HEAL_USERS, ...).
    """
    env = dict(os.environ, XRAY_HEAL_PORT=str(port), XRAY_HEAL_HOST="127.0.0.1",
               XRAY_HEAL_DATA=str(data_dir), **extra_env)
    with open(log, "ab") as out:  # a file, not a pipe nobody drains
        proc = subprocess.Popen([sys.executable, "-m", "dashboard"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dashboard exited: {log.read_text()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("dashboard did not start within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server and any background job it forked."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def live_server(tmp_path):
    """URL of a dashboard on a free port with its own data folder."""
    port = _free_port()
    log = tmp_path / "server.log"
    proc = start_server(tmp_path / "data", port, log)
    yield {"url": f"http://127.0.0.1:{port}", "data": tmp_path / "data", "port": port, "pid": proc.pid,
           "log": log, "proc": proc}
    stop_server(proc)
    errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
    assert not errors, f"the server logged errors; see {log}"


@pytest.fixture
def small_tiff(tmp_path, rings):
    """A 96x96 int32 TIFF with Pilatus flags, and its truth."""
    import tifffile

    truth, flagged, _ = rings
    path = tmp_path / "frame.tif"
    tifffile.imwrite(path, flagged)
    return path, truth, flagged
