"""Checking a processor run the way an operator's model would, after the faults are over.

Everything here reads Kafka as a consumer does (read_committed) and compares it with models
that share none of the processor's machinery:

- the **command-log model**: the domain's PartitionModel fed the command log as Kafka holds
  it (the log is the only source of truth: what one clean pass over it gives is what the
  processor must have published);
- the **in-order model** (:func:`in_order_problems`): the whole pipeline in memory, fed the
  input records in record-timestamp order: what "deciding in the order things happened"
  means, independent of the command log.

Each check returns a list of problems (empty: it holds), so the pytest cases assert them and
`make chaos` prints the first one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stocksignal import bootstrap
from stocksignal.contract import topics as catalogue
from stocksignal.contract.dlq import DLQ_OFFSET, DLQ_PARTITION, DLQ_TOPIC
from stocksignal.domain import InMemoryInventory, UnknownOrderError, ValidationError
from stocksignal.settings import Settings
from tests.e2e import support

BUCKETS = (
    "on_hand",
    "reserved",
    "picked",
    "damaged",
    "quality_hold",
    "pending_inspection",
    "inbound",
)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def first(self) -> str:
        return self.problems[0] if self.problems else ""

    def __str__(self) -> str:
        head = ", ".join(f"{k}={v}" for k, v in self.facts.items())
        if self.ok:
            return f"ok ({head})"
        shown = "\n  ".join(self.problems[:15])
        return f"{len(self.problems)} problem(s) ({head}):\n  {shown}"


@dataclass
class Outputs:
    """What consumers read, in topic order, decoded."""

    decisions: list[dict]
    movements: list[tuple[int, dict]]  # (partition, record), offset order per partition
    snapshots: list[tuple[int, dict]]

    @classmethod
    def read(cls, settings: Settings) -> Outputs:
        codec = bootstrap.make_codec(settings)

        def records(base: str):
            return [
                (p, codec.decode(v).record)
                for p, _o, _k, v, _h in support.read_topic(settings, base)
            ]

        return cls(
            [r for _, r in records(catalogue.RESERVATIONS)],
            records(catalogue.MOVEMENTS),
            records(catalogue.AVAILABILITY),
        )


def check_run(
    settings: Settings, *, expect_expired: bool = False, in_order: bool = False
) -> Report:
    """Every check of a finished run (the processor must be quiescent)."""
    report = Report()
    out = Outputs.read(settings)
    expected = support.expected_from_log(settings)
    report.facts.update(
        commands=expected.commands,
        decisions=len(out.decisions),
        movements=len(out.movements),
        snapshots=len(out.snapshots),
    )
    report.problems += model_problems(out, expected)
    report.problems += repeat_problems(out)
    report.problems += version_problems(out)
    report.problems += balance_problems(out)
    report.problems += oversell_problems(out)
    report.problems += routing_problems(settings, report)
    if expect_expired and not any(d["status"] == "EXPIRED" for d in out.decisions):
        report.problems.append("no hold expired: the case did not exercise the timer")
    if in_order:
        report.problems += in_order_problems(settings, out)
    return report


# --- against the command-log model -----------------------------------------------------------


def model_problems(out: Outputs, exp: support.Expected) -> list[str]:
    problems = []
    decisions = {d["decision_id"]: d for d in out.decisions}
    movements = {m["movement_id"]: m for _, m in out.movements}
    for kind, got, want in (
        ("decision", decisions, exp.decisions),
        ("movement", movements, exp.movements),
    ):
        for key in sorted(want.keys() - got.keys())[:5]:
            problems.append(f"{kind} {key} missing: {want[key]}")
        for key in sorted(got.keys() - want.keys())[:5]:
            problems.append(f"{kind} {key} published but not in the model: {got[key]}")
        for key in sorted(want.keys() & got.keys()):
            if got[key] != want[key]:
                problems.append(
                    f"{kind} {key} differs:\n    published {got[key]}\n    model     {want[key]}"
                )
                break
    latest = _latest(out)
    for sku in sorted(exp.latest.keys() - latest.keys())[:5]:
        problems.append(
            f"availability of {sku} never published (model: version {exp.latest[sku]['version']})"
        )
    for sku in sorted(exp.latest.keys() & latest.keys()):
        got, want = (
            support.without_published_at(latest[sku]),
            support.without_published_at(exp.latest[sku]),
        )
        if got != want:
            problems.append(
                f"final availability of {sku} differs:\n    published {got}\n    model     {want}"
            )
            break
    return problems


def _latest(out: Outputs) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for _, a in out.snapshots:
        old = latest.get(a["sku"])
        if old is None or a["version"] > old["version"]:
            latest[a["sku"]] = a
    return latest


# --- invariants of what consumers read --------------------------------------------------------


def repeat_problems(out: Outputs) -> list[str]:
    """Exactly once: no output record is read twice (ids are deterministic, so a repeat
    would have the same id)."""
    problems = []
    for kind, ids in (
        ("decision", [d["decision_id"] for d in out.decisions]),
        ("movement", [m["movement_id"] for _, m in out.movements]),
        ("availability", [(a["sku"], a["version"]) for _, a in out.snapshots]),
    ):
        seen: set = set()
        for i in ids:
            if i in seen:
                problems.append(f"{kind} {i} published twice")
                break
            seen.add(i)
    return problems


def version_problems(out: Outputs) -> list[str]:
    """``version`` strictly increases per SKU in what a consumer of the topic reads."""
    last: dict[str, int] = {}
    for _, a in out.snapshots:
        v = last.get(a["sku"])
        if v is not None and a["version"] <= v:
            return [f"availability of {a['sku']} went from version {v} to {a['version']}"]
        last[a["sku"]] = a["version"]
    return []


def balance_problems(out: Outputs) -> list[str]:
    """Per (sku, location, bucket): every movement's balance_after is the running sum of the
    deltas read so far, and the final sums are the final snapshot's balances."""
    sums: dict[tuple[str, str, str], int] = defaultdict(int)
    for _, m in out.movements:
        key = (m["sku"], m["location_id"], m["bucket"].lower())
        sums[key] += m["delta"]
        if sums[key] != m["balance_after"]:
            return [
                f"{key}: deltas sum to {sums[key]}, movement {m['movement_id']} says {m['balance_after']}"
            ]
    problems = []
    for sku, snap in _latest(out).items():
        for loc in snap["locations"]:
            for bucket in BUCKETS:
                ledger = sums.get((sku, loc["location_id"], bucket), 0)
                if ledger != loc[bucket]:
                    problems.append(
                        f"{sku}@{loc['location_id']} {bucket}: ledger {ledger}, snapshot {loc[bucket]}"
                    )
    return problems[:5]


def oversell_problems(out: Outputs) -> list[str]:
    for _, snap in out.snapshots:
        for loc in snap["locations"]:
            if loc["reserved"] > loc["on_hand"] or min(loc[b] for b in BUCKETS) < 0:
                return [f"oversold or negative: {snap['sku']} v{snap['version']} {loc}"]
    return []


def routing_problems(settings: Settings, report: Report) -> list[str]:
    """Every input record is routed exactly once, or dead-lettered: none left unprocessed."""
    codec = bootstrap.make_codec(settings)
    dead = set()
    for _p, _o, _k, _v, headers in support.read_topic(settings, catalogue.DLQ):
        h = dict(headers)
        dead.add((h[DLQ_TOPIC].decode(), int(h[DLQ_PARTITION]), int(h[DLQ_OFFSET])))
    routed: dict[tuple[str, int], int] = defaultdict(int)  # (event_id, logged_at) -> commands
    seen_commands: set[tuple[int, str]] = set()
    problems = []
    for partition, commands in support.command_log(settings).items():
        for cmd in commands:
            if (partition, cmd.command_id) in seen_commands:
                problems.append(f"command {cmd.command_id} appended twice to partition {partition}")
            seen_commands.add((partition, cmd.command_id))
            routed[(cmd.event_id, cmd.logged_at)] += 1
    inputs = 0
    for t in catalogue.list_topics(catalogue.Role.INPUT):
        name = settings.topic_prefix + t.name
        for rec in support.read_records(settings, t.name):
            inputs += 1
            if (name, rec.partition, rec.offset) in dead:
                continue
            event_id = codec.decode(rec.value).record["event_id"]
            if not routed.get((event_id, rec.timestamp)):
                problems.append(
                    f"{t.name}[{rec.partition}]@{rec.offset} (event {event_id}) neither routed nor dead-lettered"
                )
    report.facts.update(inputs=inputs, dead_lettered=len(dead))
    return problems[:10]


# --- against the in-order model ---------------------------------------------------------------


def command_order_problems(settings: Settings) -> list[str]:
    """Routed in record-timestamp order: in each command partition, the commands routed from
    input records have non-decreasing log times (the timer's commands aside)."""
    late = []
    for partition, commands in support.command_log(settings).items():
        newest = 0
        for cmd in commands:
            if cmd.event_type == "HoldsExpired":
                continue
            if cmd.logged_at < newest:
                late.append(
                    f"partition {partition}: {cmd.event_type} {cmd.command_id} logged at {cmd.logged_at} "
                    f"after a command logged at {newest}"
                )
            newest = max(newest, cmd.logged_at)
    return [f"{len(late)} commands routed out of timestamp order, e.g. {late[0]}"] if late else []


def in_order_problems(settings: Settings, out: Outputs) -> list[str]:
    """What the whole pipeline decides when every input record is taken in record-timestamp
    order (ties: topic, partition, offset) must be exactly what was published. For runs
    without holds: the timer's commands carry wall-clock time no model of the inputs knows."""
    codec = bootstrap.make_codec(settings)
    records = []
    for t in catalogue.list_topics(catalogue.Role.INPUT):
        for rec in support.read_records(settings, t.name):
            records.append((rec.timestamp, t.name, rec.partition, rec.offset, rec.value))
    records.sort()
    model = InMemoryInventory(
        partitions=settings.command_partitions, dedupe_window_ms=settings.dedupe_window_ms
    )
    decisions: dict[str, dict] = {}
    latest: dict[str, dict] = {}
    for ts, _topic, _p, _o, value in records:
        name, record = codec.decode(value)
        try:
            outcomes = model.handle_event(name, record, ts)
        except (ValidationError, UnknownOrderError):
            continue
        for outcome in outcomes:
            for d in outcome.decisions:
                decisions[d.decision_id] = d.to_record()
            if outcome.availability is not None:
                latest[outcome.state.sku] = outcome.availability.to_record()
    problems = command_order_problems(settings)
    published = {d["decision_id"]: d for d in out.decisions}
    differing = sorted(set(decisions) ^ set(published))
    if differing:
        problems.append(
            f"{len(differing)} decisions differ from deciding in timestamp order, e.g. "
            f"{decisions.get(differing[0]) or published.get(differing[0])}"
        )
    got = _latest(out)
    wrong = [
        s
        for s in latest
        if support.without_published_at(got.get(s, {})) != support.without_published_at(latest[s])
    ]
    if wrong:
        problems.append(
            f"{len(wrong)} of {len(latest)} SKUs end differently from deciding in timestamp order, "
            f"e.g. {wrong[0]}"
        )
    return problems
