"""The examples in the client's module docstrings run (docs/client.md's run against a broker)."""

from __future__ import annotations

import doctest

import pytest

import stocksignal.client.encoder
import stocksignal.client.events
import stocksignal.client.repeats


@pytest.mark.parametrize(
    "module", [stocksignal.client.events, stocksignal.client.encoder, stocksignal.client.repeats]
)
def test_module_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
