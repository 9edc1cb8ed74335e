"""Removing a previous demo run: its processes, topics, consumer groups, Redis keys and state.

What a run made is recorded in ``<run dir>/demo.json`` (procs.py); a new run, ``stocksignal demo
stop --purge`` and nothing else use it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from stocksignal import bootstrap
from stocksignal.demo import procs
from stocksignal.demo.view import PlainView
from stocksignal.settings import Settings


def cleanup_previous(run_dir: Path, base: Settings, view: PlainView) -> None:
    """Stop what the previous demo left running, then remove what it made."""
    stopped = procs.stop_all(run_dir, log=view.warn)
    if stopped:
        view.info(f"stopped the previous demo's {', '.join(stopped)}")
    previous = procs.read_state(run_dir)
    if previous:
        purge(previous, base, view)


def purge(state: Mapping[str, Any], base: Settings, view: PlainView) -> None:
    """Remove what a previous demo run made: its topics, consumer groups, Redis keys and state."""
    prefix = state.get("topic_prefix") or ""
    app_id = state.get("app_id") or ""
    if not prefix or not app_id.startswith("stocksignal-demo-"):
        return
    try:
        _delete_topics_and_groups(state, replace(base, topic_prefix=prefix), app_id, view)
    except Exception as exc:  # best effort: a leftover topic is clutter, not an error
        view.warn(f"could not clean up the previous demo's topics: {exc}")
    redis_prefix = state.get("redis_prefix") or ""
    if redis_prefix.startswith("stocksignal-demo:"):
        try:
            client = bootstrap.make_redis(base)
            keys = list(client.scan_iter(match=redis_prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        except Exception as exc:
            view.warn(f"could not delete the previous demo's Redis keys: {exc}")
    state_dir = state.get("state_dir")
    if state_dir and Path(state_dir).name.startswith("state-"):
        shutil.rmtree(state_dir, ignore_errors=True)
    view.info(
        f"removed demo run {state.get('run_id')} (topics {prefix}*, its consumer groups, Redis keys and state)"
    )


def _delete_topics_and_groups(
    state: Mapping[str, Any], settings: Settings, app_id: str, view: PlainView
) -> None:
    from stocksignal.processor.topology import plan

    admin = bootstrap.make_admin(settings)
    names = set(admin.list_topics(timeout=10).topics)
    ours = {p.name for p in plan(settings)} | {state.get("marketplace_dlq_topic", "")}
    doomed = sorted(n for n in names if n in ours or n.startswith(app_id + "-"))
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            try:
                future.result(30)
            except Exception as exc:  # already gone: fine
                view.warn(f"could not delete a topic of the previous demo: {exc}")
        # Until they are gone: a run reusing the prefix must not race their deletion.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and set(doomed) & set(
            admin.list_topics(timeout=10).topics
        ):
            time.sleep(0.2)
    groups = [g for g in state.get("consumer_groups", []) if g]
    for future in (
        admin.delete_consumer_groups(groups, request_timeout=10).values() if groups else ()
    ):
        try:
            future.result(10)
        except Exception:  # a group that never committed does not exist: fine
            pass
