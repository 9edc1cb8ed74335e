"""Deterministic output ids: the same command applied to the same state yields the same ids.

Ids are RFC 4122 version-5 UUIDs (SHA-1 of a fixed namespace and a name), computed directly
because ``uuid.uuid5`` builds two UUID objects per call and the core makes several ids for
every command. A test checks they equal ``uuid.uuid5``.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed forever: changing it would change every id and defeat consumers' repeat detection.
NAMESPACE = uuid.UUID("5b0f6a52-3c1e-5d7a-9a43-1f2de1c0a7e4")
_NAMESPACE_BYTES = NAMESPACE.bytes


_SHA1_NS = hashlib.sha1(_NAMESPACE_BYTES)  # copied per id: the namespace is hashed once
_VARIANT = "89ab89ab89ab89ab"  # the variant nibble, 10xx, for each hex digit


def uuid5(name: str) -> str:
    h = _SHA1_NS.copy()
    h.update(name.encode())
    x = h.hexdigest()
    # Version 5 in the 13th hex digit, the RFC 4122 variant in the 17th.
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[int(x[16], 16)]}{x[17:20]}-{x[20:32]}"


def decision_id(command_id: str, index: int) -> str:
    """Id of the ``index``-th decision a command produced."""
    return uuid5(f"{command_id}|d{index}")


def movement_id(command_id: str, index: int) -> str:
    """Id of the ``index``-th movement a command produced."""
    return uuid5(f"{command_id}|m{index}")
