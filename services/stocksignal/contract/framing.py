"""Which framing a deployment uses (docs/contract.md#framing): the codec factory.

It lives apart from :mod:`.codec` because it picks one of the two codecs that are built on
that module; kept there, the three modules would import each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stocksignal.contract.codec import Codec
from stocksignal.contract.schemas import SchemaSet
from stocksignal.contract.single_object import SingleObjectCodec


def make_codec(
    schema_registry_url: str = "",
    *,
    schemas: SchemaSet | None = None,
    registry_config: Mapping[str, Any] | None = None,
) -> Codec:
    """The codec the settings ask for: Schema Registry framing when a URL is set.

    ``mock://...`` URLs give confluent-kafka's in-memory registry (tests). ``registry_config``:
    the registry client's authentication and TLS (``stocksignal.security.registry``).
    """
    if not schema_registry_url:
        return SingleObjectCodec(schemas)
    # Imported here: the registry module pulls in confluent-kafka's HTTP client (~0.2 s),
    # which only registry deployments need.
    from stocksignal.contract.registry import RegistryCodec

    return RegistryCodec.from_url(schema_registry_url, schemas, registry_config)
