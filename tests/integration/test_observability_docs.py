"""docs/operations.md's configuration reference lists every setting, with its variable and default.

The table's first two columns are generated from the ``Settings`` dataclass; "used by" and
"meaning" are written by hand. After adding a setting:

    python tests/integration/test_observability_docs.py --write

adds its row (in the dataclass's order, defaults refreshed, descriptions kept) with TODO
placeholders, which this test refuses until they are filled in.
"""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
HEADER = ["| variable | default | used by | meaning |", "|---|---|---|---|"]
TODO = "TODO"
# A trailing * is a family of variables (STOCKSIGNAL_LIBRDKAFKA_*).
ROW = re.compile(
    r"^\| `(?P<var>[A-Z][A-Z0-9_]*\*?)` \| (?P<default>[^|]*) \| (?P<used>[^|]*) \| (?P<meaning>.*) \|$"
)


def format_default(value: object) -> str:
    from stocksignal.secret import Secret
    from stocksignal.security.properties import Properties

    if isinstance(value, (Secret, Properties)):
        return "(empty)" if not value else f"`{value!r}`"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, (int, float)):
        return f"`{value}`"
    if value == "":
        return "(empty)"
    return f"`{value}`"


def settings_defaults() -> dict[str, str]:
    """{environment variable: formatted default} for every field, in the dataclass's order."""
    from stocksignal.settings import Settings

    return {
        Settings.env_var(f.name): format_default(f.default)
        for f in fields(Settings)
        if f.name != "extra"  # not a setting: extra values tests and tools pass through
    }


def _table_lines(text: str) -> list[str]:
    assert START in text and END in text, f"{OPERATIONS} lacks the markers {START} ... {END}"
    body = text.split(START, 1)[1].split(END, 1)[0]
    return [line for line in body.strip().splitlines() if line.strip()]


def documented_rows(text: str) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for line in _table_lines(text)[len(HEADER) :]:
        match = ROW.match(line)
        assert match, f"not a row of the settings table: {line!r}"
        assert match["var"] not in rows, f"{match['var']} is listed twice"
        rows[match["var"]] = {k: v.strip() for k, v in match.groupdict().items()}
    return rows


def render(text: str) -> str:
    """``text`` with the settings table regenerated (descriptions kept, TODO for new rows)."""
    old = documented_rows(text) if START in text and _table_lines(text) else {}
    lines = list(HEADER)
    for var, default in settings_defaults().items():
        row = old.get(var, {"used": TODO, "meaning": TODO})
        lines.append(f"| `{var}` | {default} | {row['used']} | {row['meaning']} |")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    return before + START + "\n" + "\n".join(lines) + "\n" + END + after


# --- tests -----------------------------------------------------------------------------------


def test_every_setting_is_documented_with_its_default() -> None:
    text = OPERATIONS.read_text()
    rows = documented_rows(text)
    expected = settings_defaults()
    missing = sorted(set(expected) - set(rows))
    extra = sorted(set(rows) - set(expected))
    assert not missing, (
        f"settings missing from {OPERATIONS.name}: {missing} (run this file with --write)"
    )
    assert not extra, f"{OPERATIONS.name} lists variables that are no settings: {extra}"
    wrong = {
        var: (rows[var]["default"], default)
        for var, default in expected.items()
        if rows[var]["default"] != default
    }
    assert not wrong, f"defaults differ (documented, actual): {wrong} (run this file with --write)"
    undescribed = sorted(
        var
        for var, row in rows.items()
        if TODO in (row["used"], row["meaning"]) or not row["meaning"]
    )
    assert not undescribed, f"describe these settings in {OPERATIONS.name}: {undescribed}"
    assert render(text) == text, (
        "the table is not in the Settings order: run this file with --write"
    )


def test_the_generator_keeps_descriptions_and_adds_new_rows() -> None:
    text = OPERATIONS.read_text()
    lines = text.splitlines(keepends=True)
    # Drop one row and damage one default: --write restores both, keeping every description.
    first_row = next(
        i for i, line in enumerate(lines) if line.startswith("| `KAFKA_BOOTSTRAP_SERVERS`")
    )
    damaged = "".join(lines[:first_row] + lines[first_row + 1 :]).replace(
        "| `6066` |", "| `1` |", 1
    )
    regenerated = render(damaged)
    assert "| `KAFKA_BOOTSTRAP_SERVERS` | `127.0.0.1:19092` | TODO | TODO |" in regenerated
    assert render(regenerated.replace("| TODO | TODO |", "| x | y |")) == text.replace(
        documented_row_text(text, "KAFKA_BOOTSTRAP_SERVERS"),
        "| `KAFKA_BOOTSTRAP_SERVERS` | `127.0.0.1:19092` | x | y |",
    )


def documented_row_text(text: str, var: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| `{var}` |"))


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: python {sys.argv[0]} --write   (regenerates the table in {OPERATIONS})")
    sys.path.insert(0, str(REPO / "services"))
    OPERATIONS.write_text(render(OPERATIONS.read_text()))
    print(f"wrote the settings table of {OPERATIONS}")
