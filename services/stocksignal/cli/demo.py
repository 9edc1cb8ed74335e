"""``stocksignal demo run|stop|status``: the scripted day of docs/demo.md (``make demo``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stocksignal.cli.common import stdout_is_terminal, tool_settings

RUN_DIR_HELP = "Where pid files, logs, state and the env file go [default: $STOCKSIGNAL_LOCAL_DIR/demo or .local/demo]."


@click.group(short_help="The scripted demo day: run, stop, status.")
def demo() -> None:
    """The demo: every service as a process, and a scripted day of a small shop through
    the real topics (docs/demo.md). `make demo` runs `stocksignal demo run`."""


@demo.command("run", short_help="Start every service and play the scripted day.")
@click.option(
    "--plain",
    is_flag=True,
    help="Plain lines instead of the live view (the default when stdout is not a terminal).",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds between steps, to follow the story [default: 1.5 live, 0 plain].",
)
@click.option(
    "--free-ports",
    is_flag=True,
    help="Use free ports for every service instead of the usual ones (6066, 8080, 8099, 9108, 9109).",
)
@click.option(
    "--topic-prefix",
    default=None,
    help="Topic prefix of this run [default: STOCKSIGNAL_TOPIC_PREFIX + 'demo-<run id>.'].",
)
@click.option(
    "--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=RUN_DIR_HELP
)
@click.option(
    "--stop-when-done",
    is_flag=True,
    help="Stop the services at the end instead of leaving them running.",
)
def run_demo(
    plain: bool,
    pace: float | None,
    free_ports: bool,
    topic_prefix: str | None,
    run_dir: Path | None,
    stop_when_done: bool,
) -> None:
    """Start the platform's services and play the scripted day; check every number.

    \b
    Needs Kafka and Redis (KAFKA_BOOTSTRAP_SERVERS, REDIS_URL; `make demo` starts the local
    platform). Starts the processor, projector, storefront API, a stub marketplace and a
    marketplace-sync worker as processes that keep running afterwards (pid files in the run
    directory; `stocksignal demo stop` or `make demo-stop` stops them). A new run first
    stops and removes the previous run (its topics, Redis keys and state).

    Exit 0 when every expectation is met, 1 when one fails, 3 when Kafka or Redis does
    not answer.
    """
    from stocksignal.demo import procs
    from stocksignal.demo.runner import Options
    from stocksignal.demo.runner import run_demo as run

    base = tool_settings()
    options = Options(
        run_dir=run_dir or procs.default_run_dir(),
        plain=plain or not stdout_is_terminal(),
        pace=pace,
        free_ports=free_ports,
        topic_prefix=topic_prefix,
        stop_when_done=stop_when_done,
    )
    sys.exit(run(options, base))


@demo.command("stop", short_help="Stop the services the demo left running.")
@click.option(
    "--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=RUN_DIR_HELP
)
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete the run's topics, consumer groups, Redis keys and state.",
)
def stop_demo(run_dir: Path | None, purge: bool) -> None:
    """Stop the services the demo left running (SIGTERM, SIGKILL after 20 s).

    Same as `make demo-stop`; `make down` does it too.
    """
    from stocksignal.demo import procs

    directory = run_dir or procs.default_run_dir()
    stopped = procs.stop_all(directory, log=click.echo)
    click.echo(f"stopped {', '.join(stopped)}" if stopped else f"nothing running ({directory})")
    if purge:
        from stocksignal.demo.runner import purge as purge_run
        from stocksignal.demo.view import PlainView

        state = procs.read_state(directory)
        if state:
            purge_run(state, tool_settings(), PlainView())
            (directory / procs.STATE_FILE).unlink(missing_ok=True)


@demo.command("status", short_help="Show the demo's processes and URLs.")
@click.option(
    "--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=RUN_DIR_HELP
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The run's recorded state and running processes as JSON.",
)
def status_demo(run_dir: Path | None, as_json: bool) -> None:
    """Show the demo's processes and URLs. Exit 0 when all five run, 1 otherwise."""
    from stocksignal.demo import procs
    from stocksignal.demo.runner import SERVICES

    directory = run_dir or procs.default_run_dir()
    state = procs.read_state(directory) or {}
    running = procs.running(directory)
    if as_json:
        click.echo(json.dumps({"state": state, "running": running}, indent=2))
    else:
        if state:
            click.echo(
                f"run {state.get('run_id')} · topics {state.get('topic_prefix')}* · {directory}"
            )
        for name in SERVICES:
            pid = running.get(name)
            click.echo(f"  {name:<17} {'up   pid ' + str(pid) if pid else 'down'}")
        for name, url in (state.get("urls") or {}).items():
            click.echo(f"  {name:<17} {url}")
    if set(running) != set(SERVICES):
        sys.exit(1)
