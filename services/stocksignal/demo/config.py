"""What a demo run is made of: its options, its ports and its settings.

A run has topics, consumer groups, Redis keys and a state directory of its own (named after
its run id) and, where they are free, the usual ports (docs/demo.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from stocksignal.bench.probes import free_port, port_free
from stocksignal.demo import procs, script
from stocksignal.settings import Settings

PREFERRED_PORTS = {
    "processor": 6066,
    "api": 8080,
    "stub": 8099,
    "projector_metrics": 9108,
    "sync_metrics": 9109,
}


@dataclass
class Options:
    run_dir: Path = field(default_factory=procs.default_run_dir)
    plain: bool = False
    pace: float | None = None  # seconds between steps; None: 1.5 live, 0 plain
    free_ports: bool = False
    topic_prefix: str | None = None
    stop_when_done: bool = False


@dataclass
class Ports:
    processor: int
    api: int
    stub: int
    projector_metrics: int
    sync_metrics: int

    def urls(self) -> dict[str, str]:
        return {
            "processor": f"http://127.0.0.1:{self.processor}",
            "api": f"http://127.0.0.1:{self.api}",
            "stub": f"http://127.0.0.1:{self.stub}",
            "projector_metrics": f"http://127.0.0.1:{self.projector_metrics}/metrics",
            "sync_metrics": f"http://127.0.0.1:{self.sync_metrics}/metrics",
        }


def choose_ports(any_free: bool) -> tuple[Ports, list[str]]:
    """The preferred ports where free (or always free ones); notes for ports that moved."""
    chosen: dict[str, int] = {}
    notes = []
    for name, preferred in PREFERRED_PORTS.items():
        if not any_free and port_free(preferred) and preferred not in chosen.values():
            chosen[name] = preferred
        else:
            chosen[name] = free_port()
            if not any_free:
                notes.append(f"port {preferred} ({name}) is taken: using {chosen[name]}")
    return Ports(**chosen), notes


def demo_settings(
    base: Settings, run_id: str, prefix: str, run_dir: Path, ports: Ports
) -> Settings:
    """The run's settings: its own topics, groups, Redis keys, state directory and ports."""
    tag = f"stocksignal-demo-{run_id}"
    return replace(
        base,
        topic_prefix=prefix,
        app_id=tag,
        state_dir=str(run_dir / f"state-{run_id}"),
        web_host="127.0.0.1",
        web_port=ports.processor,
        api_host="127.0.0.1",
        api_port=ports.api,
        redis_prefix=f"stocksignal-demo:{run_id}:",
        projector_group=f"{tag}-projector",
        marketplace_channel=script.MARKETPLACE,
        marketplace_url=f"http://127.0.0.1:{ports.stub}/updates",
        marketplace_allow_http=True,  # the demo's stub marketplace, on loopback
        marketplace_group=f"{tag}-sync-{script.MARKETPLACE}",
        marketplace_linger_ms=50,
        projector_batch_wait_ms=20,
        log_level="INFO",
    )
