"""Token digests, the loopback rule and the port check: pure or on loopback sockets only."""

from __future__ import annotations

import socket

import pytest

from stocksignal.settings import Settings, SettingsError
from stocksignal.web.exposure import ExposedWithoutAuth, check_exposure, is_loopback
from stocksignal.web.server import PortInUse, check_port_free
from stocksignal.web.tokens import (
    TokenConfigError,
    hash_token,
    new_token,
    parse_digests,
    token_matches,
)

ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # SHA-256("abc")


def test_a_digest_is_sha256_hex_of_the_token():
    assert hash_token("abc") == ABC


def test_new_tokens_are_random_and_long():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50 and all(len(t) >= 43 for t in tokens)


def test_digests_are_parsed_normalised_and_deduplicated():
    assert parse_digests(f" {ABC.upper()} ,, {ABC}, {'0' * 64}", "X") == (ABC, "0" * 64)
    assert parse_digests("", "X") == ()


@pytest.mark.parametrize("bad", ["abc", ABC + "0", "g" * 64, f"{ABC},sha256:{ABC}"])
def test_anything_but_a_hex_digest_is_refused_naming_the_setting(bad):
    with pytest.raises(
        TokenConfigError, match="STOCKSIGNAL_API_TOKENS_SHA256: item .* is not a SHA-256 hex digest"
    ):
        parse_digests(bad, "STOCKSIGNAL_API_TOKENS_SHA256")


def test_a_token_matches_any_configured_digest_and_nothing_else():
    digests = (hash_token("old"), hash_token("new"))
    assert token_matches("old", digests) and token_matches("new", digests)
    assert not token_matches("other", digests)
    assert not token_matches(digests[0], digests), "the digest itself is not a token"
    assert not token_matches("old", ())


def test_settings_refuse_a_clear_text_token():
    with pytest.raises(SettingsError, match="STOCKSIGNAL_API_TOKENS_SHA256"):
        Settings.from_env({"STOCKSIGNAL_API_TOKENS_SHA256": "my-secret-token"})
    assert Settings.from_env({"STOCKSIGNAL_WEB_TOKENS_SHA256": ABC}).token_digests(
        "web_tokens_sha256"
    ) == (ABC,)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]
)
def test_loopback_addresses(host):
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "10.0.0.5", "192.168.1.2", "api.internal", "localhost.example"]
)
def test_everything_else_is_not_loopback(host):
    assert not is_loopback(host)


def test_an_open_server_beyond_loopback_is_refused_unless_allowed():
    args = ("the storefront API", "0.0.0.0")
    names = ("STOCKSIGNAL_API_TOKENS_SHA256", "STOCKSIGNAL_ALLOW_UNAUTHENTICATED")
    with pytest.raises(
        ExposedWithoutAuth,
        match="would listen on 0.0.0.0 without authentication: set STOCKSIGNAL_API",
    ):
        check_exposure(*args, False, False, *names)
    check_exposure(*args, True, False, *names)  # tokens
    check_exposure(*args, False, True, *names)  # explicitly allowed
    check_exposure("the storefront API", "127.0.0.1", False, False, *names)  # loopback


def test_a_port_being_listened_on_is_in_use_and_a_free_one_is_not(free_port):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(
            PortInUse, match=f"the API: 127.0.0.1:{port} is in use by another process"
        ):
            check_port_free("127.0.0.1", port, "the API")
    check_port_free("127.0.0.1", free_port(), "the API")


def test_an_address_that_is_not_ours_cannot_be_bound():
    with pytest.raises(PortInUse, match="cannot be used"):
        check_port_free("192.0.2.1", 8080, "the API")  # TEST-NET-1: never an address of this host
