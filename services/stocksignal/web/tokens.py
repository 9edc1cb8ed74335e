"""Bearer tokens as stocksignal configures them: random, and stored only as SHA-256 digests.

Settings hold the SHA-256 of each token as 64 hex digits, comma-separated, so several can be
valid at once (add the new one, move clients, remove the old one). A token must be random
(:func:`new_token`: 256 bits), which is why one fast hash is enough: there is no dictionary
to try against a digest. Pure, and free of aiohttp, so settings can check digests cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class TokenConfigError(ValueError):
    """A configured token digest is not 64 hex digits."""


def hash_token(token: str) -> str:
    """The digest to configure for ``token``: SHA-256 of its UTF-8, 64 lowercase hex digits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (32 random bytes, URL-safe base64: 43 characters)."""
    return secrets.token_urlsafe(32)


def parse_digests(text: str, setting: str) -> tuple[str, ...]:
    """Digests from a comma-separated setting; :class:`TokenConfigError` names ``setting``."""
    digests = []
    for i, part in enumerate(p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if not HEX_DIGEST.match(part):
            raise TokenConfigError(
                f"{setting}: item {i + 1} is not a SHA-256 hex digest (64 hex digits); "
                "configure the hash of a token, never the token: `stocksignal token hash`"
            )
        digests.append(part)
    return tuple(dict.fromkeys(digests))


def token_matches(token: str, digests: Iterable[str]) -> bool:
    """Constant time in which digest (if any) matches: every one is compared."""
    offered = hash_token(token).encode()
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(offered, digest.encode())
    return matched
