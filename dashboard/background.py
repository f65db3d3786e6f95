"""Dash's DiskcacheManager made safe to fork from a threaded web server.

The manager forks one process per job from whichever request thread starts
it, while other threads read and delete progress in the same SQLite file.
A child forked while another thread is inside an SQLite statement inherits
that thread's lock bookkeeping, which no thread of the child will release:
its first write waits for it until diskcache gives up (``diskcache.Timeout``
after 60 s), the job dies and the page never gets its result. This was seen
with five tabs polling while their jobs started. So every cache operation of
the manager and every fork take one lock: a fork happens only between
statements.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import stat
import threading
from pathlib import Path

import diskcache
from dash import DiskcacheManager

_lock = threading.RLock()


def _new_lock_in_child() -> None:
    """A forked child starts with a free lock (the parent's copy was held by the fork)."""
    global _lock
    _lock = threading.RLock()


def _drop_listening_sockets() -> None:
    """Let go of the server's listening sockets in a forked job.

    A job inherits every descriptor of the server. If it kept the listening
    socket, a server killed while the job runs could not be restarted on its
    port ("Address already in use") until the job ended, and connections
    would queue on a socket nobody accepts from. Each listening socket's
    descriptor is pointed at /dev/null instead of closed, so its number is
    never reused for a file the job opens (the server's socket object in the
    child still holds the number).
    """
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return
    devnull = None
    for entry in fds.iterdir():
        fd = int(entry.name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            probe = socket.socket(fileno=os.dup(fd))
        except OSError:  # closed meanwhile (the listing's own descriptor), or not an inet/unix socket
            continue
        with probe:
            try:
                listening = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            except OSError:
                listening = False
        if listening:
            devnull = devnull if devnull is not None else os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, fd)
    if devnull is not None:
        os.close(devnull)


def _after_fork_in_child() -> None:
    _new_lock_in_child()
    _drop_listening_sockets()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _locked(name: str):
    """``diskcache.Cache.<name>``, called under the fork lock."""
    method = getattr(diskcache.Cache, name)

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with _lock:
            return method(self, *args, **kwargs)
    return call


class ForkSafeCache(diskcache.Cache):
    """A diskcache.Cache whose operations that DiskcacheManager uses hold the fork lock."""

    get, set, add, delete, touch = map(_locked, ("get", "set", "add", "delete", "touch"))

    @contextlib.contextmanager
    def transact(self, retry: bool = False):
        with _lock, super().transact(retry):
            yield


class ForkSafeDiskcacheManager(DiskcacheManager):
    """DiskcacheManager on a :class:`ForkSafeCache` that forks a job only between statements."""

    def __init__(self, cache: ForkSafeCache):
        super().__init__(cache)

    def call_job_fn(self, key, job_fn, args, context):
        with _lock:
            return super().call_job_fn(key, job_fn, args, context)
