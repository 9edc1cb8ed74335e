"""May a server start on this address without authentication? (docs/operations.md#http-security)

Without tokens a server is open to whoever reaches its address. On a loopback address that is
only this host, which is the development default; on any other address (``0.0.0.0``, a LAN
address, a host name) the server refuses to start unless the operator says, with a setting,
that something else (a private network, a proxy) protects it.
"""

from __future__ import annotations

import ipaddress


class ExposedWithoutAuth(ValueError):
    """A server would listen beyond loopback without tokens, and that was not allowed."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; a host name is not trusted to be one."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(
    what: str,
    host: str,
    authenticated: bool,
    allow_unauthenticated: bool,
    tokens_setting: str,
    allow_setting: str,
) -> None:
    """:class:`ExposedWithoutAuth` when ``what`` would serve ``host`` beyond loopback openly."""
    if authenticated or allow_unauthenticated or is_loopback(host):
        return
    raise ExposedWithoutAuth(
        f"{what} would listen on {host or 'every address'} without authentication: set {tokens_setting} "
        f"(hashes from `stocksignal token new`), bind a loopback address, or set {allow_setting}=true "
        "if something else protects it"
    )
