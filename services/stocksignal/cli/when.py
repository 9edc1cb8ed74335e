"""``--at``, ``--since``, ``--until``: a time option in any spelling of :mod:`stocksignal.times`,
or epoch milliseconds as digits; converted to epoch milliseconds when the command starts."""

from __future__ import annotations

import time
from typing import Any

import click

from stocksignal.times import parse_timestamp

HELP = "epoch ms, ISO 8601 with an offset (2026-01-01T14:00:00+01:00), 'now', or relative: -2h, -30m, -1d"


class Moment(click.ParamType):
    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        try:
            return parse_timestamp(text, int(time.time() * 1000))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


MOMENT = Moment()
