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


def uuid5(name: str) -> str:
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def decision_id(command_id: str, index: int) -> str:
    """Id of the ``index``-th decision a command produced."""
    return uuid5(f"{command_id}|d{index}")


def movement_id(command_id: str, index: int) -> str:
    """Id of the ``index``-th movement a command produced."""
    return uuid5(f"{command_id}|m{index}")
