"""Errors the core raises for input it refuses (sent to the DLQ as VALIDATION_ERROR)."""

from __future__ import annotations


class ValidationError(ValueError):
    """An input record breaks a rule of docs/semantics.md#validation; ``problems`` name each path and rule."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        ValueError.__init__(self, "; ".join(self.problems))


class UnknownOrderError(ValidationError):
    """An event names an order whose lines the router has never seen."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        ValidationError.__init__(
            self, [f"order_id: unknown order {order_id!r} (no OrderPlaced seen)"]
        )
