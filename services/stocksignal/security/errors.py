"""What a connection check at start can find, besides success."""

from __future__ import annotations


class AccessRefused(Exception):
    """The service answered and refused us: credentials, certificates, or a protocol mismatch.

    Retrying does not help (librdkafka would retry forever); the message names the settings to
    check and never contains a secret. The command line exits with code 5 (docs/cli.md).
    """


class NoAnswer(Exception):
    """The service did not answer within the timeout (exit code 3): down, or unreachable."""
