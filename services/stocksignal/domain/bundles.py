"""Bundle availability: the scarcest component decides (docs/semantics.md#bundle-availability).

    ATS(channel, bundle) = min over components c of floor(ATS(channel, c) / c.qty)

A bundle's number is derived from its components' *published* availability, so it is kept
where the bundle lives (its own command partition) as a :class:`BundleView`: the last value
seen per component and channel, the last values published, and its own version. A component
never seen counts as 0 on every channel; a channel missing from a component's snapshot (not
configured when it was made) counts as 0 for that component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .catalog import Bundle
from .channels import DEFAULT_CHANNEL
from .outputs import AvailabilityChanged, ChannelAvailability

ChannelValues = Mapping[str, int]  # channel_id -> available


def bundle_ats(
    bundle: Bundle, components: Mapping[str, ChannelValues], channels: tuple[str, ...] = ()
) -> dict[str, int]:
    """Per channel, the whole bundles the components' availability allows.

    The channels are ``default``, ``channels`` and every channel any component lists (by
    channel id), as a SKU's snapshot lists ``default`` and every configured channel.
    """
    every = {DEFAULT_CHANNEL, *channels}
    for c in bundle.components:
        every.update(components.get(c.sku, {}))
    out: dict[str, int] = {}
    for ch in sorted(every):
        out[ch] = min(components.get(c.sku, {}).get(ch, 0) // c.qty for c in bundle.components)
    return out


@dataclass(frozen=True, slots=True)
class Limit:
    """How many bundles one component allows on one channel."""

    sku: str
    available: int  # the component's ATS on the channel
    qty: int  # units per bundle
    bundles: int  # available // qty

    @property
    def line(self) -> str:
        return f"{self.sku}: {self.available} available / {self.qty} per bundle = {self.bundles}"


def limits(bundle: Bundle, components: Mapping[str, ChannelValues], channel_id: str) -> list[Limit]:
    """Every component's limit on a channel, scarcest first (ties by SKU): the first one is
    why the bundle's number is what it is."""
    out = []
    for c in bundle.components:
        available = components.get(c.sku, {}).get(channel_id, 0)
        out.append(Limit(c.sku, available, c.qty, available // c.qty))
    return sorted(out, key=lambda lim: (lim.bundles, lim.sku))


@dataclass(frozen=True, slots=True)
class BundleView:
    """What a bundle's partition knows of it: its definition (None once removed), the last
    availability seen per component, and what it last published, with its version."""

    bundle_sku: str
    bundle: Bundle | None = None
    version: int = 0
    components: Mapping[str, ChannelValues] = field(default_factory=dict)
    published: Mapping[str, int] | None = None  # None: nothing published yet
    # The channels configured when it was defined, listed until every component has told
    # its own (a component's snapshot lists every channel its partition has configured).
    channels: tuple[str, ...] = ()

    def values(self) -> dict[str, int]:
        """The bundle's availability now: 0 on every known channel once it is removed."""
        if self.bundle is None:
            return {ch: 0 for ch in (self.published or {DEFAULT_CHANNEL: 0})}
        return bundle_ats(self.bundle, self.components, self.channels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.bundle_sku,
            "b": self.bundle.to_list() if self.bundle is not None else None,
            "v": self.version,
            "c": {s: dict(v) for s, v in self.components.items()},
            "p": dict(self.published) if self.published is not None else None,
            "ch": list(self.channels),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BundleView:
        b = d.get("b")
        return cls(
            d["sku"],
            Bundle.of(d["sku"], (tuple(x) for x in b)) if b is not None else None,
            d["v"],
            {s: dict(v) for s, v in d.get("c", {}).items()},
            dict(d["p"]) if d.get("p") is not None else None,
            tuple(d.get("ch", ())),
        )


@dataclass(frozen=True, slots=True)
class Cause:
    """The change that moved a bundle's number: a component's snapshot, or the catalogue."""

    event_id: str
    event_type: str
    occurred_at: int


def _publish(
    view: BundleView, new: BundleView, cause: Cause
) -> tuple[BundleView, AvailabilityChanged | None]:
    values = new.values()
    if values == view.published:
        return (
            new,
            None,
        )  # 11.2: a change that leaves every channel's value unchanged publishes nothing
    version = view.version + 1
    snapshot = AvailabilityChanged(
        new.bundle_sku,
        version,
        [ChannelAvailability(ch, n) for ch, n in sorted(values.items())],
        [],  # a bundle holds no stock: no locations
        cause.event_id,
        cause.event_type,
        cause.occurred_at,
    )
    return replace(new, version=version, published=values), snapshot


def observe(
    view: BundleView, component_sku: str, values: ChannelValues, cause: Cause
) -> tuple[BundleView, AvailabilityChanged | None]:
    """A component's availability was published: the bundle's new view, and its snapshot if
    any channel's bundle value changed. A SKU that is not (or no longer) a component is
    ignored: the news may be from before a redefinition."""
    if view.bundle is None or view.bundle.qty_of(component_sku) == 0:
        return view, None
    components = {**view.components, component_sku: dict(values)}
    told = all(c.sku in components for c in view.bundle.components)
    new = replace(view, components=components, channels=() if told else view.channels)
    return _publish(view, new, cause)


def redefine(
    view: BundleView, bundle: Bundle | None, cause: Cause, channels: tuple[str, ...] = ()
) -> tuple[BundleView, AvailabilityChanged | None]:
    """The bundle was defined, redefined or (``None``) removed. Components it no longer has are
    forgotten; a removed bundle publishes 0 on every channel it was offered on. ``channels``:
    the channels configured now, listed (at 0) until the components have told theirs."""
    components = (
        {} if bundle is None else {s: v for s, v in view.components.items() if bundle.qty_of(s)}
    )
    told = bundle is not None and all(c.sku in components for c in bundle.components)
    new = replace(
        view, bundle=bundle, components=components, channels=() if told else tuple(channels)
    )
    return _publish(view, new, cause)
