"""Fit slots: at most N fits at once per machine, served first come, first served."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .common import host_name, process_alive


class Slots:
    """The fit slots of a data folder (a part of :class:`dashboard.storage.Store`)."""

    def try_slot(self, job_id: str, slots: int) -> bool:
        """Take one of ``slots`` fit slots for this process, if one is free and
        it is this job's turn.

        Jobs are served first come, first served: a job takes a slot only
        when fewer jobs queued before it on this machine are waiting than
        slots are free (:meth:`queue_ahead`). A slot is a file holding the pid
        of the process that took it; a slot whose process is gone is free
        again, so a killed job never keeps one. Slots are per machine (each
        Celery worker host has its own GPU).
        """
        folder = self.root / "slots" / host_name()
        folder.mkdir(parents=True, exist_ok=True)
        free = [path for path in (folder / f"slot-{n}" for n in range(max(1, slots))) if _slot_free(path)]
        if self.queue_ahead(job_id) >= len(free):
            return False
        for path in free:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue  # another process was faster
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "job_id": job_id}, f)
            return True
        return False

    def release_slot(self) -> None:
        """Give back the slot this process holds."""
        for path in (self.root / "slots" / host_name()).glob("slot-*"):
            try:
                if json.loads(path.read_text()).get("pid") == os.getpid():
                    path.unlink(missing_ok=True)
            except (FileNotFoundError, ValueError):
                continue


def _slot_free(path: Path) -> bool:
    """Whether a slot file is free: absent, unreadable, or held by a process that is gone
    (its file is then removed)."""
    try:
        holder = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return not path.exists()
    if process_alive(holder.get("pid")):
        return False
    path.unlink(missing_ok=True)
    return True


