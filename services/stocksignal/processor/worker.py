"""One processor worker process: the runtime's loop on the main thread, the inspection API on
its own thread, and a lock that keeps a second worker out of the same state directory."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from stocksignal.processor.runtime import ProcessingError, Runtime
from stocksignal.processor.store import StoreLocked
from stocksignal.processor.web import WebServer

log = logging.getLogger(__name__)


def lock_state_dir(state_dir: str, app_id: str) -> TextIO:
    """Hold ``<state_dir>/<app_id>/LOCK`` for the life of the process (created when missing).

    Two workers sharing a directory would share a transactional id and fence each other, and
    would write each other's stores."""
    root = Path(state_dir) / app_id
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / "LOCK", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreLocked(
            f"state directory {root} is in use by another worker: give every worker its own STOCKSIGNAL_STATE_DIR"
        ) from None
    return handle


class ProcessorWorker:
    def __init__(self, runtime: Runtime, web: WebServer, lock: TextIO) -> None:
        self.runtime = runtime
        self.web = web
        self._lock = lock

    def run(self, stop: Callable[[], bool]) -> None:
        """Serve the inspection API and run the loop until ``stop()``; a processing error
        is recorded (``/healthz`` says so) and raised."""
        self.web.start()
        try:
            self.runtime.run(stop)
        except ProcessingError as exc:
            self.runtime.failure = exc
            raise
        finally:
            self.web.stop()
            self._lock.close()
