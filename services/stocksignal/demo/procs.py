"""The demo's processes and their pid files (standard library only).

Every process the demo starts runs in a session of its own, detached from the terminal, so it
keeps running after the demo ends. Its pid is written to ``<run dir>/<name>.pid`` and its
output to ``<run dir>/logs/<name>.log``; :func:`stop_all` stops exactly those processes
(SIGTERM to the process group, SIGKILL after a timeout) and removes the pid files. It is
used by ``make demo-stop`` and ``make down`` through ``python3 -m stocksignal.demo.stop``, which
must work before any virtualenv exists: nothing here imports a third-party module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

STATE_FILE = "demo.json"
ENV_FILE = "env"
# A pid file's process must have this in its command line to be ours (pids are reused).
MARKER = "stocksignal"


def default_run_dir() -> Path:
    """``$STOCKSIGNAL_LOCAL_DIR/demo``, else ``.local/demo`` (relative to the current directory,
    which is the repository root when run by make)."""
    base = os.environ.get("STOCKSIGNAL_LOCAL_DIR") or ".local"
    return Path(base) / "demo"


def pid_files(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("*.pid")) if run_dir.is_dir() else []


def start(run_dir: Path, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``argv`` detached, log to ``logs/<name>.log``, record its pid."""
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    if log_path.exists():
        log_path.replace(logs / f"{name}.log.1")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    (run_dir / f"{name}.pid").write_text(f"{proc.pid}\n")
    return proc


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_ours(pid: int) -> bool:
    """Whether ``pid`` runs a stocksignal command (where /proc exists; elsewhere assumed)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return MARKER.encode() in f.read()
    except FileNotFoundError:
        return not Path("/proc/self").exists() and alive(pid)
    except OSError:
        return False


def running(run_dir: Path) -> dict[str, int]:
    """name -> pid of every recorded demo process still running."""
    out = {}
    for path in pid_files(run_dir):
        pid = read_pid(path)
        if pid is not None and alive(pid) and is_ours(pid):
            out[path.stem] = pid
    return out


def stop_all(run_dir: Path, timeout: float = 20.0, log=print) -> list[str]:
    """Stop every recorded process (SIGTERM, then SIGKILL after ``timeout``); remove the pid files.

    Returns the names of the processes that were running.
    """
    targets: dict[str, int] = {}
    for path in pid_files(run_dir):
        pid = read_pid(path)
        if pid is not None and alive(pid) and is_ours(pid):
            targets[path.stem] = pid
            _signal(pid, signal.SIGTERM)
        else:
            path.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in targets.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for name, pid in targets.items():
        if alive(pid):
            log(f"{name} (pid {pid}) did not stop within {timeout:.0f}s: killing it")
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(alive(p) for p in targets.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for name in targets:
        (run_dir / f"{name}.pid").unlink(missing_ok=True)
    return sorted(targets)


def _signal(pid: int, signum: int) -> None:
    """Signal the process group the demo started (the process and any children)."""
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def write_state(run_dir: Path, state: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(run_dir / STATE_FILE)


def read_state(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
