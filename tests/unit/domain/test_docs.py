"""The worked examples of docs/semantics.md run against the code (and must keep passing)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

SEMANTICS = Path(__file__).resolve().parents[3] / "docs" / "semantics.md"
PYCON = re.compile(r"^```pycon\n(.*?)^```", re.DOTALL | re.MULTILINE)
REQUIRED_EXAMPLES = [
    "### Example: the last unit, raced by two channels",
    "### Example: a return, one mug restocked and one damaged",
    "### Example: a short pick, re-allocated to another warehouse",
    "### Example: a cycle count finds fewer units than reserved",
    "### Example: MUG-BLUE at 14:00, and what moved it since",
    "### Example: a marketplace buffer and a cap",  # v1.1
    "### Example: back in stock",  # v1.1
    "### Example: the last gift set, raced against a lamp order",  # v1.1, section 11
    "### Example: a six-pack and an alias share one stock",  # v1.1, section 11
]


def pycon_only(text: str) -> str:
    """The pycon blocks of ``text``, with every other line blanked (line numbers stay true)."""
    lines = text.split("\n")
    out = [""] * len(lines)
    for match in PYCON.finditer(text):
        first = text.count("\n", 0, match.start(1))
        for i, line in enumerate(match.group(1).split("\n")):
            out[first + i] = line
    return "\n".join(out)


def test_semantics_has_the_required_worked_examples():
    text = SEMANTICS.read_text()
    for heading in REQUIRED_EXAMPLES:
        assert heading in text


def test_semantics_examples_run_as_written():
    text = SEMANTICS.read_text()
    parser = doctest.DocTestParser()
    test = parser.get_doctest(pycon_only(text), {}, "semantics.md", str(SEMANTICS), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 30
    assert result.failed == 0


def test_the_doc_runner_notices_a_wrong_example():
    text = "```pycon\n>>> 1 + 1\n3\n\n```\n"
    test = doctest.DocTestParser().get_doctest(pycon_only(text), {}, "bad.md", "bad.md", 0)
    runner = doctest.DocTestRunner()
    runner.run(test, out=lambda _: None)
    assert runner.summarize(verbose=False).failed == 1
