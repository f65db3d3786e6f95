"""pyFAI's OpenMP code hangs in a process forked after its parent ran it; the
dashboard's jobs are such forks, and must still get pyFAI's fill."""

import os
import time

import numpy as np

from dip_engine.baselines import fill_pyfai


def _frame():
    rng = np.random.default_rng(0)
    image = rng.poisson(50, (200, 220)).astype(np.float64)
    missing = np.zeros(image.shape, bool)
    missing[90:110, :] = True
    return image, missing


def test_a_forked_child_gets_the_same_pyfai_fill_as_its_parent(tmp_path):
    image, missing = _frame()
    expected = fill_pyfai(image, missing, (100.0, 110.0))  # the parent runs pyFAI's OpenMP code first
    out = tmp_path / "child.npy"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            np.save(out, fill_pyfai(image, missing, (100.0, 110.0)))
        finally:
            os._exit(0)
    deadline = time.time() + 60
    while os.waitpid(pid, os.WNOHANG)[0] == 0:
        if time.time() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            break
        time.sleep(0.1)
    assert out.exists(), "the forked child hung (or failed) in pyFAI"
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)
