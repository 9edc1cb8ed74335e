"""The demo's last screen: the verdict, the final availability, and where to look next."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stocksignal.demo import kit_part, ledger_part, procs, script
from stocksignal.demo.checks import fmt_channels
from stocksignal.demo.supervisor import EXIT_OK, cli_path, relative

if TYPE_CHECKING:  # pragma: no cover
    from stocksignal.demo.story import Demo


def show(demo: Demo, code: int, elapsed: float) -> None:
    view, results, failed = demo.view, demo.checks.results, demo.checks.failed
    view.info("")
    if code == EXIT_OK:
        view.title(f"All {len(results)} expectations met in {elapsed:.0f} s")
    elif failed:
        view.title(f"{len(failed)} of {len(results)} expectations FAILED ({elapsed:.0f} s)")
        for text in failed:
            view.error(text)
    else:
        view.title(f"The demo stopped after {elapsed:.0f} s (exit {code})")
    if demo.supervisor is None:
        return
    latest = demo.latest
    if latest:
        rows = [
            [sku, fmt_channels({c["channel_id"]: c["available"] for c in a["channels"]})]
            for sku, a in sorted(latest.items())
        ]
        view.table(
            "Final availability (inventory.availability.v1):",
            ["SKU", "available per channel"],
            rows,
        )
    running = procs.running(demo.run_dir)
    for line in where_to_look(demo, bool(running)):
        view.info(line)


def where_to_look(demo: Demo, running: bool) -> list[str]:
    urls, cli = demo.urls(), cli_path()
    api, processor, mug, lamp = urls["api"], urls["processor"], script.MUG, script.LAMP
    lines = [
        "Where to look (the services keep running):" if running else "Where to look:",
        f"  storefront API    curl -s '{api}/availability/{mug}?channel={script.WEBSHOP}'",
        f"                    {api}/availability/{lamp}   {api}/openapi.json   {api}/metrics",
        f"  processor         {processor}/skus/{mug}   {processor}/skus/{mug}/movements?limit=20"
        f"   {processor}/metrics",
        f"  marketplace stub  {urls['stub']}/state",
        f"  adapter metrics   {urls['projector_metrics']} (projector)   {urls['sync_metrics']} (sync)",
        f"  CLI               source {relative(demo.run_dir / procs.ENV_FILE)}",
        f"                    {cli} sku {mug}",
        *ledger_part.where_to_look(demo, cli),
        f"                    {cli} tail movements --sku {mug} -n 30",
        f"                    {cli} tail reservations --sku {lamp} --from-beginning",
        f"                    {cli} tail stock-levels --sku {lamp} --from-beginning",
        f"                    {cli} channels list",
        *kit_part.where_to_look(cli),
        f"  logs              {relative(demo.run_dir / 'logs')}/",
    ]
    if running:
        lines.append("Stop the demo's services with `make demo-stop` (`make down` stops them too).")
    return lines
