"""A setting that must never be printed: passwords, client secrets, tokens, key passwords.

``repr()`` and ``str()`` say only whether it is set (and from which file), so a ``Settings``
in a log line, a traceback or an error message cannot leak it. ``reveal()`` is the one way to
the value, used where a client is configured (``stocksignal.security``). :func:`redact_url`
does the same for a password inside a URL. Standard library only.
"""

from __future__ import annotations


class Secret:
    """An immutable secret string; ``file`` is where it was read from (empty: the environment)."""

    __slots__ = ("_value", "_file")
    _value: str
    _file: str

    def __init__(self, value: str = "", file: str = "") -> None:
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_file", file)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    @property
    def file(self) -> str:
        return self._file

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        if not self._value:
            return "Secret('')"
        return f"Secret(file={self._file!r})" if self._file else "Secret('***')"

    __str__ = __repr__


def redact_url(url: str) -> str:
    """``url`` (or a comma-separated list of them) with each password replaced by ``***``."""
    return ",".join(_redact_one(part) for part in url.split(","))


def _redact_one(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if not sep or "@" not in netloc:
        return url
    userinfo, host = netloc.rsplit("@", 1)
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}{slash}{path}"
