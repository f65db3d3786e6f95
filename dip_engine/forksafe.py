"""Run pyFAI's compiled (OpenMP) code safely in a forked process.

pyFAI's Cython extensions use GNU OpenMP, whose thread pool does not survive
``fork``: a child forked after its parent ran OpenMP code (pyFAI's, or
torch's) hangs in its first parallel region (a test shows it). The
dashboard's jobs are such children. :func:`call` runs a function directly in
the process that imported this module, and after a fork in a fresh Python
worker (``python -m dip_engine.forksafe``, one per forked process, kept for
its life) that talks pickles over its standard input and output. A plain
subprocess, not ``multiprocessing``'s spawn, which would re-run the
server's ``__main__`` in the worker.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys

_STATE: dict = {"forked": False, "worker": None}


def _after_fork_in_child() -> None:
    """Mark this process as forked, and forget the parent's worker."""
    _STATE.update(forked=True, worker=None)


os.register_at_fork(after_in_child=_after_fork_in_child)


def call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, in the worker when this process was forked.

    ``fn`` must be a module-level function and its arguments and result
    picklable; its exceptions reach the caller as they are.
    """
    if not _STATE["forked"]:
        return fn(*args, **kwargs)
    worker = _STATE["worker"]
    if worker is None or worker.poll() is not None:
        worker = _STATE["worker"] = subprocess.Popen(
            [sys.executable, "-m", "dip_engine.forksafe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    _send(worker.stdin, (fn, args, kwargs))
    ok, value = _receive(worker.stdout)
    if not ok:
        raise value
    return value


def _send(stream, obj) -> None:
    """Write one length-prefixed pickle."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    """Read one length-prefixed pickle; EOFError when the other side is gone."""
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the pyFAI worker process ended")
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


def _serve() -> None:
    """The worker's loop: run each call it is sent and send back (ok, result or exception)."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the pipe
    while True:
        try:
            fn, args, kwargs = _receive(stdin)
        except EOFError:
            return
        try:
            reply = (True, fn(*args, **kwargs))
        except Exception as exc:  # every failure goes back to the caller, who raises it
            reply = (False, exc)
        _send(stdout, reply)


if __name__ == "__main__":
    _serve()
