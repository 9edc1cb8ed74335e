"""``stocksignal token new|hash``: bearer tokens for the storefront and inspection APIs.

Servers are configured with SHA-256 digests, never with tokens (docs/operations.md#http-security),
so a leaked configuration grants nothing. ``hash`` reads the token from stdin, not from an
argument: arguments end up in shell history and in every process listing.
"""

from __future__ import annotations

import sys

import click

from stocksignal.cli.common import EXIT_USAGE
from stocksignal.web.tokens import hash_token, new_token


@click.group(short_help="Make bearer tokens and the digests servers are configured with.")
def token() -> None:
    """Bearer tokens of the storefront API (STOCKSIGNAL_API_TOKENS_SHA256) and the
    inspection API (STOCKSIGNAL_WEB_TOKENS_SHA256): both take SHA-256 digests,
    comma-separated, so a new token can be added before the old one is removed."""


@token.command("new")
def new() -> None:
    """Print a new random token and, on the next line, its SHA-256 digest.

    \b
    Give the token to the client; add the digest to the server's setting.
    """
    value = new_token()
    click.echo(value)
    click.echo(hash_token(value))


@token.command("hash")
def hash_() -> None:
    """Read a token from stdin (one line) and print its SHA-256 digest.

    \b
    Example:
      printf '%s' "$TOKEN" | stocksignal token hash
    """
    if sys.stdin.isatty():
        value = click.prompt("token", hide_input=True, err=True)
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value.strip():
        click.echo("Error: no token on stdin", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(hash_token(value))
