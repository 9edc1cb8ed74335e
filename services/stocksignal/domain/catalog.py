"""The catalogue: bundles, multipacks and aliases (docs/semantics.md#bundles-and-shared-stock).

A bundle is a SKU sold as a fixed set of other SKUs' units. It holds no stock of its own: its
availability is its scarcest component's (bundles.py) and an order for it reserves its
components (order_saga.py). One component with ``qty`` 1 is an alias (two listings sharing
one stock); one component with ``qty`` 6 is a six-pack.

Like the channel book, the catalogue is kept per command partition, changed only by catalogue
commands in that partition's own log, so a replay expands every order with the catalogue it
was first expanded with (docs/processor.md#bundles-and-all-or-nothing-orders).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_COMPONENTS = 20
MAX_COMPONENT_QTY = 1_000


@dataclass(frozen=True, slots=True)
class BundleComponent:
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bundle SKU and its components, in the order they were defined."""

    bundle_sku: str
    components: tuple[BundleComponent, ...]

    @property
    def skus(self) -> tuple[str, ...]:
        return tuple(c.sku for c in self.components)

    def qty_of(self, sku: str) -> int:
        for c in self.components:
            if c.sku == sku:
                return c.qty
        return 0

    def to_list(self) -> list[list[Any]]:
        return [[c.sku, c.qty] for c in self.components]

    @classmethod
    def of(cls, bundle_sku: str, components: Iterable[tuple[str, int]]) -> Bundle:
        return cls(bundle_sku, tuple(BundleComponent(sku, qty) for sku, qty in components))


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The bundles one partition knows, by bundle SKU. Immutable, like ChannelBook: a
    decision made under one catalogue can never see a later one."""

    bundles: Mapping[str, Bundle] = field(default_factory=dict)

    def is_bundle(self, sku: str) -> bool:
        return sku in self.bundles

    def get(self, sku: str) -> Bundle | None:
        return self.bundles.get(sku)

    def with_bundle(self, bundle: Bundle) -> Catalogue:
        return Catalogue({**self.bundles, bundle.bundle_sku: bundle})

    def without(self, bundle_sku: str) -> Catalogue:
        if bundle_sku not in self.bundles:
            return self
        bundles = dict(self.bundles)
        del bundles[bundle_sku]
        return Catalogue(bundles)

    def containing(self, sku: str) -> list[Bundle]:
        """The bundles that have ``sku`` as a component, by bundle SKU."""
        return [b for _, b in sorted(self.bundles.items()) if sku in b.skus]

    def to_dict(self) -> dict[str, Any]:
        return {"bundles": {s: self.bundles[s].to_list() for s in sorted(self.bundles)}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Catalogue:
        return cls(
            {
                s: Bundle.of(s, (tuple(c) for c in comps))
                for s, comps in d.get("bundles", {}).items()
            }
        )


def refusal(catalogue: Catalogue, bundle: Bundle, *, stocked: bool) -> str | None:
    """Why a well-formed ``BundleDefined`` must be refused (the DLQ's ``dlq.error``), or None.

    The rules that need more than the record itself (contract 11.1): a SKU is either stocked
    or a bundle, never both; a component is never itself a bundle, and a bundle is never a
    component of another bundle. ``stocked``: the bundle SKU holds stock positions.
    Redefining a bundle (new components) is allowed.
    """
    sku = bundle.bundle_sku
    if stocked:
        return f"bundle_sku: {sku!r} holds stock positions; a SKU is either stocked or a bundle, never both"
    nested = [c.sku for c in bundle.components if catalogue.is_bundle(c.sku)]
    if nested:
        return f"components: {', '.join(map(repr, nested))} is a bundle; a component is never itself a bundle"
    users = [b.bundle_sku for b in catalogue.containing(sku) if b.bundle_sku != sku]
    if users:
        return (
            f"bundle_sku: {sku!r} is a component of {', '.join(map(repr, users))}; "
            "a component is never itself a bundle"
        )
    return None


def stock_refusal(catalogue: Catalogue, sku: str) -> str | None:
    """Why a stock, pick, shipment, return or transfer event naming ``sku`` is refused."""
    if catalogue.is_bundle(sku):
        return f"sku: {sku!r} is a bundle; a bundle holds no stock of its own (name its components)"
    return None


def apply_catalog_command(catalogue: Catalogue, command: Any) -> Catalogue:
    """The catalogue after an accepted ``DefineBundle`` / ``RemoveBundle`` command."""
    components = getattr(command, "components", None)
    if components is None:
        return catalogue.without(command.bundle_sku)
    return catalogue.with_bundle(Bundle.of(command.bundle_sku, components))
