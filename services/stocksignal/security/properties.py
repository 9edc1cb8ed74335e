"""librdkafka properties passed through from a file or prefixed environment variables.

Two ways in, for any property stocksignal has no setting of its own for (docs/operations.md,
"Any other librdkafka property"):

- ``STOCKSIGNAL_KAFKA_CONFIG_FILE``: a file of ``key=value`` lines (``#`` or ``!`` starts a
  comment line, blank lines are skipped, whitespace around key and value is dropped) — the
  format of the ``client.properties`` that managed Kafka services hand out for librdkafka.
- ``STOCKSIGNAL_LIBRDKAFKA_<NAME>=value``: ``<NAME>`` upper-cased with ``.`` written as ``_``
  (``STOCKSIGNAL_LIBRDKAFKA_CLIENT_RACK`` is ``client.rack``); ``__`` stands for a literal ``_``.

Values may be secret (the file can hold ``sasl.password``): :class:`Properties` never shows a
value in ``repr()``, and :func:`shown` prints a value only when its key is not secret-looking.
Standard library only; parsing is pure, :meth:`Properties.from_file` reads the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

ENV_PREFIX = "STOCKSIGNAL_LIBRDKAFKA_"
FILE_VAR = "STOCKSIGNAL_KAFKA_CONFIG_FILE"
_SECRET_KEY = re.compile(
    r"password|secret|token|\.pem$|^ssl_key$|sasl\.oauthbearer\.config", re.IGNORECASE
)
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class PropertiesError(ValueError):
    """A line or a variable that is not a property; the message never contains a value."""


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def shown(key: str, value: str) -> str:
    """``key=value`` for a message, with the value hidden for secret-looking keys."""
    return f"{key}=***" if is_secret_key(key) else f"{key}={value}"


class Properties(Mapping[str, str]):
    """An immutable ``{property: value}`` with one source per property (a variable or file:line)."""

    __slots__ = ("_items", "_sources", "_file")

    def __init__(
        self,
        items: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
        file: str = "",
    ) -> None:
        self._items = dict(items or {})
        self._sources = {key: (sources or {}).get(key, "") for key in self._items}
        self._file = file

    @property
    def file(self) -> str:
        """The file the properties came from (empty: not from a file)."""
        return self._file

    def source(self, key: str) -> str:
        return self._sources[key]

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Properties) and (other._items, other._file) == (
            self._items,
            self._file,
        )

    def __hash__(self) -> int:
        return hash((tuple(sorted(self._items.items())), self._file))

    def __repr__(self) -> str:
        where = f"file={self._file!r}, " if self._file else ""
        return f"Properties({where}keys={sorted(self._items)})"

    # --- reading -------------------------------------------------------------------------

    @classmethod
    def from_text(cls, text: str, file: str) -> Properties:
        items: dict[str, str] = {}
        sources: dict[str, str] = {}
        first: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped[0] in "#!":
                continue
            key, sep, value = stripped.partition("=")
            key = key.strip()
            where = f"{FILE_VAR} ({file}, line {number})"
            if not sep or not _KEY.match(key):
                raise PropertiesError(f"{where}: expected key=value")
            if key in items:
                raise PropertiesError(f"{where}: {key} is set twice (first on line {first[key]})")
            items[key], sources[key], first[key] = value.strip(), where, number
        return cls(items, sources, file)

    @classmethod
    def from_file(cls, path: str) -> Properties:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise PropertiesError(f"{FILE_VAR}={path}: cannot read it ({exc.strerror})") from exc
        return cls.from_text(text, path)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Properties:
        items: dict[str, str] = {}
        sources: dict[str, str] = {}
        for var in sorted(v for v in environ if v.startswith(ENV_PREFIX)):
            key = env_to_key(var)
            if not _KEY.match(key):
                raise PropertiesError(f"{var}: not a librdkafka property name")
            items[key], sources[key] = environ[var], var
        return cls(items, sources)

    def to_env(self) -> dict[str, str]:
        return {key_to_env(key): value for key, value in self._items.items()}


def env_to_key(var: str) -> str:
    name = var[len(ENV_PREFIX) :].lower()
    return ".".join(part.replace("\0", "_") for part in name.replace("__", "\0").split("_"))


def key_to_env(key: str) -> str:
    return ENV_PREFIX + key.replace("_", "__").replace(".", "_").upper()
