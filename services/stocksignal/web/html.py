"""Server-rendered HTML that escapes by construction (the operator's page, docs/operations.md).

Every text and attribute value handed to :func:`el` is escaped; only :class:`Html` (what
:func:`el` itself returns) passes through unchanged. A page is therefore built from values
without anyone having to remember to escape a SKU, an error message or a header that came
from a producer: there is no way to splice raw text in other than by constructing
:class:`Html` explicitly. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Union

# Elements without a closing tag.
VOID = frozenset({"br", "hr", "img", "input", "link", "meta"})


class Html(str):
    """Markup that is already safe: the result of :func:`el` or :func:`join`."""


Child = Union["Html", str, int, float, None, Iterable]


def _text(child: Child) -> str:
    if child is None or child is False:
        return ""
    if isinstance(child, Html):
        return child
    if isinstance(child, (str, int, float)):
        return escape(str(child), quote=False)
    return "".join(_text(c) for c in child)  # a list or generator of children


def _attrs(attrs: dict[str, object]) -> str:
    out = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        # Python names: class_ -> class, data_field -> data-field.
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{escape(str(value), quote=True)}"')
    return "".join(out)


def el(tag: str, *children: Child, **attrs: object) -> Html:
    """``<tag attrs>children</tag>``, every str child and attribute value escaped."""
    opening = f"<{tag}{_attrs(attrs)}>"
    if tag in VOID:
        return Html(opening)
    return Html(f"{opening}{_text(children)}</{tag}>")


def join(children: Iterable[Child]) -> Html:
    return Html(_text(list(children)))


def document(title: str, body: Child, stylesheet: str) -> Html:
    """A whole page: doctype, UTF-8, the title, one stylesheet (no inline style or script, so
    the Content-Security-Policy can forbid both)."""
    head = el(
        "head",
        el("meta", charset="utf-8"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("title", title),
        el("link", rel="stylesheet", href=stylesheet),
    )
    return Html("<!doctype html>\n" + el("html", head, el("body", body), lang="en"))
