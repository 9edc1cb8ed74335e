"""The ``stocksignal`` command line: its groups and its refusal of bad settings."""

from click.testing import CliRunner

from stocksignal.cli.main import main


def test_run_offers_the_adapter_processes():
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    for command in ("projector", "api", "marketplace-sync"):
        assert command in result.output


def test_marketplace_sync_without_a_channel_is_a_usage_error():
    result = CliRunner().invoke(
        main,
        ["run", "marketplace-sync", "--url", "http://127.0.0.1:1/x"],
        env={"STOCKSIGNAL_MARKETPLACE_CHANNEL": ""},
    )
    assert result.exit_code == 2
    assert "--channel" in result.output


def test_a_settings_value_of_the_wrong_type_is_a_usage_error():
    result = CliRunner().invoke(
        main, ["run", "projector"], env={"STOCKSIGNAL_PROJECTOR_BATCH_SIZE": "many"}
    )
    assert result.exit_code == 2
    assert "STOCKSIGNAL_PROJECTOR_BATCH_SIZE" in result.output
