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
import threading

import diskcache
from dash import DiskcacheManager

_lock = threading.RLock()


def _new_lock_in_child() -> None:
    """A forked child starts with a free lock (the parent's copy was held by the fork)."""
    global _lock
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_new_lock_in_child)


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
