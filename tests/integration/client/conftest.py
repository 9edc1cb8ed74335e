"""The client's integration tests use the CLI's fixtures: an isolated world and a processor."""

from tests.integration.cli.conftest import cli, cli_settings, processor, with_topics  # noqa: F401
