"""A stocksignal command as a process: started with a settings' environment, logging to a
file, checked while a test waits for it, stopped with SIGTERM (SIGKILL if it will not go)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CLI = ("-m", "stocksignal.cli.main")


class Service:
    """``python <argv>`` with ``env`` over this process's environment (``inherit=False``: ``env``
    alone); ``Service.cli(env, log, "run", "api")`` is ``stocksignal run api``."""

    def __init__(
        self, argv: list[str], env: Mapping[str, str], log: Path, inherit: bool = True
    ) -> None:
        self.log = log
        full_env = {**(os.environ if inherit else {}), **env, "PYTHONUNBUFFERED": "1"}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *argv],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @classmethod
    def cli(cls, env: Mapping[str, str], log: Path, *args: str, inherit: bool = True) -> Service:
        return cls([*CLI, *args], env, log, inherit)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return f"(no log at {self.log})"

    def alive(self) -> None:
        """AssertionError with the log's end when the process has exited."""
        assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.tail()}"

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def all_alive(*services: Service):  # -> Callable[[], None], for waits.wait_until(alive=...)
    def check() -> None:
        for service in services:
            service.alive()

    return check
