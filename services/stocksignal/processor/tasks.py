"""A worker's tasks: one per assigned partition, holding what was fetched and how far it got.

An :class:`InputTask` routes one input partition; a :class:`CommandTask` applies one
command-topic partition. Each keeps its buffer of fetched records, the offset it would commit
now, and its store (the command partition's state; an orders partition's order memory).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from stocksignal.processor.applier import PartitionState, RecordCursor
from stocksignal.processor.orders import OrderMemory
from stocksignal.processor.store import PartitionStore


@dataclass(eq=False)
class Task:
    topic: str
    partition: int
    start: int  # the offset the partition was (re)started from; negative: librdkafka's logical
    buffer: deque = field(default_factory=deque)
    next_offset: int | None = None  # offset to commit once something was processed
    committed: int | None = None  # the offset last committed for this partition
    dirty: bool = False  # processed since the last commit
    paused: bool = False
    ready: bool = True  # False while its store restores
    store: PartitionStore | None = None
    log_time: int = 0
    empty_since: float | None = None  # when its buffer ran dry while records were due
    gave_up: bool = False  # routing stopped waiting for it (max_task_idle_ms)

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)

    def commit_offset(self) -> int | None:
        return self.next_offset


@dataclass(eq=False)
class InputTask(Task):
    base: str = ""  # the contract's name of the topic
    orders: OrderMemory | None = None
    # (offset of the last record a poll gave it, when): how long its records were fetched.
    arrivals: deque = field(default_factory=deque)
    # The partition's end as the broker gave it when the task was created: librdkafka keeps
    # what its last fetch response said, which after a re-assignment may be long out of date.
    known_end: int | None = None


@dataclass(eq=False)
class CommandTask(Task):
    state: PartitionState | None = None
    cursor: RecordCursor | None = None

    def commit_offset(self) -> int | None:
        # A record applied part-way is read again after a failure: commit its own offset
        # (applier.py skips the commands already applied, by position).
        if self.cursor is not None:
            return self.cursor.offset
        return self.next_offset
