"""The security documentation: every setting the code names is documented, every link lands."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from stocksignal.settings import Settings

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SECURITY_CODE = sorted((REPO / "services" / "stocksignal" / "security").glob("*.py"))


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", path.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_to_a_section_of_our_docs_lands_on_a_heading():
    broken = []
    for doc in DOCS:
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?#([\w-]+)\)", doc.read_text()):
            page = (doc.parent / target).resolve() if target else doc
            if anchor not in anchors(page):
                broken.append(f"{doc.relative_to(REPO)} -> {target}#{anchor}")
    assert not broken, broken


def test_every_variable_the_security_code_names_is_a_setting_or_a_secrets_file():
    known = {Settings.env_var(f.name) for f in fields(Settings)}
    known |= {var + "_FILE" for var in known} | {"KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL"}
    named = set()
    for path in SECURITY_CODE:
        named |= set(re.findall(r"\b(STOCKSIGNAL_[A-Z0-9_]*[A-Z0-9])\b", path.read_text()))
    unknown = sorted(
        v for v in named if v not in known and not v.startswith("STOCKSIGNAL_LIBRDKAFKA_")
    )
    assert not unknown, f"messages name variables that do not exist: {unknown}"
