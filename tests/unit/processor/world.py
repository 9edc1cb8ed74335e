"""A processor worker built as bootstrap.build_processor builds it, on the fakes of fakes.py,
plus the inputs a test sends and the model of what must come out.

- :class:`World`: one fake broker with every topic of the plan, a fake clock (wall time and
  monotonic time, both advanced only by the test), the real codec, the input events sent;
- :class:`Worker`: a real Runtime (Router, Applier, Publisher, Restorer, StoreFactory) over a
  FakeGroupConsumer, FakeTxnProducer and FakeChangelogReader;
- :func:`expected` / :func:`published`: what InMemoryInventory decides when the inputs are taken
  in record-timestamp order, and what a read_committed consumer of the outputs reads;
  :func:`assert_matches_model` compares them (nothing missing, nothing doubled, nothing different).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stocksignal.bench.workload import Event
from stocksignal.contract import key_for, make_codec, partition_for, topic_for_record
from stocksignal.contract import topics as catalogue
from stocksignal.contract.keys import key_error
from stocksignal.domain import InMemoryInventory, ValidationError
from stocksignal.processor import batches, bundles, sagas
from stocksignal.processor.applier import Applier, ApplierConfig
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.publisher import Publisher, output_topics
from stocksignal.processor.restore import Restorer
from stocksignal.processor.router import Router, RouterConfig
from stocksignal.processor.runtime import CommitCall, InlineCommit, Runtime, RuntimeConfig
from stocksignal.processor.store import StoreFactory
from stocksignal.processor.topology import COMMANDS
from tests.unit.processor.fakes import (
    FakeBroker,
    FakeChangelogReader,
    FakeGroupConsumer,
    FakeTxn,
    FakeTxnProducer,
)

APP_ID = "app"
STOCK_CHANGELOG = f"{APP_ID}-stock-changelog"
ORDERS_CHANGELOG = f"{APP_ID}-orders-changelog"
INPUTS = [t.name for t in catalogue.list_topics(catalogue.Role.INPUT)]
DEDUPE_WINDOW_MS = 7 * 24 * 3600 * 1000
MAX_CHECKPOINT_AGE_MS = 24 * 3600 * 1000
T0 = 1_700_000_000_000  # the fake wall clock's start (ms)


class FakeClock:
    """Wall and monotonic time in integer milliseconds, advanced only by the test."""

    def __init__(self, wall_ms: int = T0, mono_ms: int = 1_000_000) -> None:
        self.wall_ms = wall_ms
        self.mono_ms = mono_ms

    def time(self) -> float:
        return self.wall_ms / 1000

    def monotonic(self) -> float:
        return self.mono_ms / 1000

    def advance(self, ms: int) -> None:
        self.wall_ms += ms
        self.mono_ms += ms


@dataclass
class Sent:
    ts: int
    topic: str
    partition: int
    offset: int
    name: str
    record: dict


class World:
    def __init__(
        self, command_partitions: int = 2, input_partitions: int = 2, output_partitions: int = 2
    ) -> None:
        self.clock = FakeClock()
        self.broker = FakeBroker(now_ms=lambda: self.clock.wall_ms, group_id=APP_ID)
        self.command_partitions = command_partitions
        self.input_partitions = input_partitions
        for name in INPUTS:
            self.broker.create_topic(name, input_partitions)
        self.broker.create_topic(COMMANDS, command_partitions)
        self.broker.create_topic(STOCK_CHANGELOG, command_partitions)
        self.broker.create_topic(ORDERS_CHANGELOG, input_partitions)
        for t in catalogue.list_topics(catalogue.Role.OUTPUT):
            self.broker.create_topic(t.name, output_partitions)
        self.broker.create_topic(catalogue.DLQ, output_partitions)
        self.codec = make_codec("")
        self.sent: list[Sent] = []
        self._ts = T0 - 3_600_000  # record timestamps: an hour before the wall clock, 10 ms apart
        self.upstream: FakeTxn | None = None  # a transaction the inputs are written in

    # --- inputs --------------------------------------------------------------------------

    def next_ts(self) -> int:
        self._ts += 10
        return self._ts

    def where(self, name: str, record: dict) -> tuple[str, int, bytes]:
        topic = topic_for_record(name)
        key = key_for(topic, name, record).encode()
        return topic, partition_for(key, self.broker.partitions(topic)), key

    def send(self, events: Iterable[Event], txn: FakeTxn | None = None) -> list[Sent]:
        """Append each event to its input topic (its key's partition), with increasing record
        timestamps; ``txn`` (default: :attr:`upstream`): inside an upstream transaction."""
        txn = txn or self.upstream
        out = []
        for e in events:
            topic, p, key = self.where(e.name, e.record)
            ts = self.next_ts()
            offset = self.broker.append(
                topic, p, key, self.codec.encode(e.name, e.record), None, ts, txn
            )
            s = Sent(ts, topic, p, offset, e.name, e.record)
            self.sent.append(s)
            out.append(s)
        return out

    # --- workers -------------------------------------------------------------------------

    def worker(
        self,
        member: str = "worker-1",
        store: str = "memory",
        state_dir: str | Path = "/nonexistent",
        **overrides,
    ) -> Worker:
        return Worker(self, member, store, str(state_dir), overrides)


class DeferredCommit(CommitCall):
    """A commit that runs a step later than it started: deterministic, and the loop meanwhile
    works on the next transaction, as it does while a commit runs on its own thread."""

    def __init__(self, fn) -> None:
        self.error = None
        self._fn = fn
        self._asked = 0

    def _run_once(self) -> None:
        fn, self._fn = self._fn, None
        if fn is not None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the runtime
                self.error = exc

    def done(self) -> bool:
        # Asked right after it started and at the start of the next step: still running, so
        # that step works on the next transaction meanwhile; done the time after.
        self._asked += 1
        if self._asked < 3:
            return False
        self._run_once()
        return True

    def wait(self, timeout_s: float) -> bool:
        self._run_once()
        return True


class Worker:
    """One processor worker: a real Runtime on the fakes, composed as bootstrap does."""

    def __init__(
        self, world: World, member: str, store: str, state_dir: str, overrides: dict
    ) -> None:
        b, clock = world.broker, world.clock
        self.world = world
        # InlineCommit: each commit completes within the call (the fakes are not thread-safe);
        # DeferredCommit: it completes at the next step, as a commit on its own thread would.
        overrides = dict(overrides)
        self.commit_mode = overrides.pop("commit_mode", InlineCommit)
        self.metrics = ProcessorMetrics()
        partitions = {t: b.partitions(t) for t in b.logs}
        name = lambda base: base  # noqa: E731  (no topic prefix)
        self.publisher = Publisher(
            world.codec, output_topics(name, partitions), self.metrics, send=None, clock=clock.time
        )
        self.router = Router(
            RouterConfig(
                COMMANDS, world.command_partitions, catalogue.DLQ, partitions[catalogue.DLQ]
            ),
            world.codec,
            self.metrics,
            key_error,
        )
        self.applier = Applier(
            ApplierConfig(DEDUPE_WINDOW_MS, 8, 8), self.publisher, self.metrics, clock=clock.time
        )
        bundles.install(
            self.applier,
            self.publisher,
            world.codec,
            self.metrics,
            command_topic=COMMANDS,
            command_partitions=world.command_partitions,
            dlq_topic=catalogue.DLQ,
            dlq_partitions=partitions[catalogue.DLQ],
            availability_topic=catalogue.AVAILABILITY,
            dedupe_window_ms=DEDUPE_WINDOW_MS,
        )
        sagas.install(
            self.applier,
            self.router,
            self.publisher,
            world.codec,
            self.metrics,
            command_topic=COMMANDS,
            command_partitions=world.command_partitions,
            decisions_topic=catalogue.ORDER_DECISIONS,
        )
        self.reader = FakeChangelogReader(b)
        self.restorer = Restorer(
            self.reader,
            {
                STOCK_CHANGELOG: b.topic_ids[STOCK_CHANGELOG],
                ORDERS_CHANGELOG: b.topic_ids[ORDERS_CHANGELOG],
            },
            MAX_CHECKPOINT_AGE_MS,
            clock=clock.time,
        )
        settings = dict(
            command_topic=COMMANDS,
            command_partitions=world.command_partitions,
            inputs={t: t for t in INPUTS},
            orders_topic=catalogue.ORDERS,
            stock_changelog=STOCK_CHANGELOG,
            orders_changelog=ORDERS_CHANGELOG,
            commit_interval_ms=100,
            max_task_idle_ms=1000,
            dedupe_window_ms=DEDUPE_WINDOW_MS,
        )
        settings.update(overrides)
        self.config = RuntimeConfig(**settings)
        self.stores = StoreFactory(store, state_dir, APP_ID, 8, 8)
        self.consumer = FakeGroupConsumer(b, member)
        self.producer = FakeTxnProducer(b, f"{APP_ID}-{member}")
        self.runtime = Runtime(
            self.config,
            self.consumer,
            self.producer,
            self.restorer,
            self.stores,
            self.router,
            self.applier,
            self.publisher,
            self.metrics,
            clock=clock.time,
            monotonic=clock.monotonic,
            sleep=lambda s: clock.advance(int(s * 1000)),
            start_commit=self.commit_mode,
        )
        self.router.sagas.stores = lambda: self.runtime.serving

    # --- driving -------------------------------------------------------------------------

    def start(self) -> Worker:
        self.runtime.start()
        return self

    def step(self, n: int = 1, advance_ms: int = 0) -> None:
        for _ in range(n):
            self.runtime.step()
            if advance_ms:
                self.world.clock.advance(advance_ms)

    def close(self) -> None:
        self.runtime.close()

    def busy(self) -> list[str]:
        """Why this worker is not idle (empty: idle)."""
        rt = self.runtime
        why = []
        if rt._txn.open:
            why.append("a transaction is open")
        if rt._committing is not None:
            why.append("a commit is in flight")
        if self.restorer.restoring():
            why.append(f"{self.restorer.restoring()} store(s) restoring")
        for tp, t in rt.tasks.items():
            if t.buffer:
                why.append(f"{tp}: {len(t.buffer)} buffered")
            if getattr(t, "cursor", None) is not None:
                why.append(f"{tp}: a command record is applied part-way")
            if not t.ready:
                why.append(f"{tp}: not ready")
        for tp, n in self.consumer.unread().items():
            state = " (paused in the consumer)" if tp in self.consumer.paused else ""
            task = rt.tasks.get(tp)
            if task is not None and tp in self.consumer.paused and not task.paused:
                state += ", but its task thinks it is not paused: it will never be resumed"
            why.append(
                f"{tp}: {n} record(s) not fetched yet{state}"
                if n
                else f"{tp}: a marker not passed yet"
            )
        return why

    # --- looking inside ------------------------------------------------------------------

    def committed_data(self) -> dict[tuple[str, int], dict[bytes, bytes]]:
        """Each open store's committed part (what is in the local store, not the overlay)."""
        return {tp: dict(s._scan(b"", b"")) for tp, s in self.runtime._open_stores.items()}


def run_until_idle(*workers: Worker, advance_ms: int = 40, max_rounds: int = 400) -> int:
    """Step every worker, advancing the clock, until all are idle for five rounds in a row
    (longer than the commit interval, so an offsets-only commit of passed markers has had its
    turn). Returns the rounds."""
    clock = workers[0].world.clock
    quiet = 0
    for rounds in range(1, max_rounds + 1):
        for w in workers:
            w.runtime.step()
        clock.advance(advance_ms)
        quiet = quiet + 1 if not any(w.busy() for w in workers) else 0
        if quiet >= 5:
            return rounds
    reasons = {w.consumer.member_id: w.busy()[:8] for w in workers}
    raise AssertionError(f"the workers did not become idle in {max_rounds} rounds: {reasons}")


# --- the model and what consumers read -------------------------------------------------------


@dataclass
class Outputs:
    decisions: list[dict] = field(default_factory=list)
    movements: list[dict] = field(default_factory=list)
    snapshots: list[tuple[int, dict]] = field(
        default_factory=list
    )  # (partition, record), log order
    dlq: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)
    commands: dict[int, list[dict]] = field(default_factory=dict)  # command partition -> commands

    def latest(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for _, a in self.snapshots:
            if a["sku"] not in out or a["version"] > out[a["sku"]]["version"]:
                out[a["sku"]] = a
        return out


def published(world: World) -> Outputs:
    """What a read_committed consumer reads from every output topic and the command log."""
    b, decode = world.broker, world.codec.decode
    out = Outputs()
    out.decisions = [decode(r.value).record for r in b.visible(catalogue.RESERVATIONS)]
    out.movements = [decode(r.value).record for r in b.visible(catalogue.MOVEMENTS)]
    out.snapshots = [
        (r.partition, decode(r.value).record) for r in b.visible(catalogue.AVAILABILITY)
    ]
    out.dlq = [(r.key, r.value) for r in b.visible(catalogue.DLQ)]
    for p in range(b.partitions(COMMANDS)):
        out.commands[p] = [c for r in b.visible(COMMANDS, p) for c in batches.decode(r.value)]
    return out


def expected(world: World) -> Outputs:
    """InMemoryInventory fed every input record in record-timestamp order."""
    model = InMemoryInventory(
        partitions=world.command_partitions, dedupe_window_ms=DEDUPE_WINDOW_MS
    )
    out = Outputs()
    latest: dict[str, dict] = {}
    for s in sorted(world.sent, key=lambda s: (s.ts, s.topic, s.partition, s.offset)):
        try:
            outcomes = model.handle_event(s.name, s.record, s.ts)
        except ValidationError:
            out.dlq.append((None, None))
            continue
        for o in outcomes:
            out.decisions.extend(d.to_record() for d in o.decisions)
            out.movements.extend(m.to_record() for m in o.movements)
            if o.changed:
                latest[o.state.sku] = o.availability.to_record()
    out.snapshots = [(-1, a) for a in latest.values()]
    return out


def _no_published_at(a: dict) -> dict:
    return {k: v for k, v in a.items() if k != "published_at"}


def assert_matches_model(world: World) -> Outputs:
    """Exactly once: every output the model gives is read once, nothing else is; the command
    log holds every command once."""
    got, want = published(world), expected(world)
    for kind, key in (("decisions", "decision_id"), ("movements", "movement_id")):
        ids = Counter(r[key] for r in getattr(got, kind))
        doubled = [i for i, n in ids.items() if n > 1]
        assert not doubled, f"{kind} published more than once: {doubled[:5]}"
        g = {r[key]: r for r in getattr(got, kind)}
        w = {r[key]: r for r in getattr(want, kind)}
        assert g.keys() - w.keys() == set(), (
            f"{kind} not in the model: {sorted(g.keys() - w.keys())[:5]}"
        )
        assert w.keys() - g.keys() == set(), f"{kind} missing: {sorted(w.keys() - g.keys())[:5]}"
        for k in w:
            assert g[k] == w[k], f"{kind[:-1]} {k} differs:\n  published {g[k]}\n  model     {w[k]}"
    seen: dict[str, int] = {}
    for _, a in got.snapshots:  # one SKU's snapshots are in one partition, in log order
        assert a["version"] > seen.get(a["sku"], -1), (
            f"availability of {a['sku']} v{a['version']} repeated or out of order"
        )
        seen[a["sku"]] = a["version"]
    g_latest, w_latest = got.latest(), {a["sku"]: a for _, a in want.snapshots}
    assert g_latest.keys() == w_latest.keys(), (
        f"SKUs with availability differ: published only {sorted(g_latest.keys() - w_latest.keys())}, "
        f"model only {sorted(w_latest.keys() - g_latest.keys())}"
    )
    for sku, a in w_latest.items():
        assert _no_published_at(g_latest[sku]) == _no_published_at(a), (
            f"final availability of {sku} differs:\n  published {g_latest[sku]}\n  model     {a}"
        )
    assert len(got.dlq) == len(want.dlq), (
        f"{len(got.dlq)} DLQ records, the model refuses {len(want.dlq)} inputs"
    )
    for p, commands in got.commands.items():
        ids = Counter(c["command_id"] for c in commands)
        doubled = [i for i, n in ids.items() if n > 1]
        assert not doubled, f"command partition {p}: commands routed more than once: {doubled[:5]}"
    routed = defaultdict(int)
    for commands in got.commands.values():
        for c in commands:
            routed[c["event_id"]] += 1
    assert set(routed) <= {s.record["event_id"] for s in world.sent}, (
        "commands for events never sent"
    )
    return got
