"""One function per SKU command: ``handler(changeset, command) -> None``."""
