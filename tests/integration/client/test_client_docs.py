"""docs/client.md's examples run as written: every ``pycon`` block, in order, as one doctest,
against a real broker and a processor worker on fresh topics (settings from the environment,
as a service would read them)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLIENT_MD = Path(__file__).resolve().parents[3] / "docs" / "client.md"
PYCON = re.compile(r"^```pycon\n(.*?)^```", re.S | re.M)


def examples() -> str:
    blocks = PYCON.findall(CLIENT_MD.read_text())
    assert len(blocks) >= 6, "docs/client.md lost its examples"
    # A blank line ends each block's expected output before the next block starts.
    return "\n".join(blocks)


def test_the_documented_examples_run(processor, monkeypatch):
    for name, value in processor.settings.to_env().items():
        monkeypatch.setenv(name, value)
    test = doctest.DocTestParser().get_doctest(examples(), {}, "docs/client.md", str(CLIENT_MD), 0)
    out: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=out.append)
    assert runner.failures == 0 and runner.tries == len(test.examples) > 10, "".join(out)
