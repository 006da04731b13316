"""The ``tmfgate`` command: subcommands and options from the declared settings, settings shown, exit codes."""

from __future__ import annotations

import pytest

from tmfgate import __version__
from tmfgate.cli import build_parser, main
from tmfgate.runtime import installed


def test_every_declared_setting_is_an_option_of_serve_and_the_command_list_is_complete() -> None:
    registry = installed()
    parser = build_parser(registry)
    args = parser.parse_args(["serve", "--database-url", "memory://", "--port", "9"])
    assert (args.command, args.database_url, args.port) == ("serve", "memory://", 9)
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"serve", "dispatch", "settings", "conformance"} <= set(commands)
    assert {command.name for command in registry.commands} <= set(commands)


def test_settings_show_each_variable_and_whether_it_is_the_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMFGATE_PORT", "9090")
    monkeypatch.setenv("TMFGATE_DATABASE_URL", "memory://")
    assert main(["settings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "TMFGATE_PORT=9090" in lines and "TMFGATE_DATABASE_URL=memory://" in lines
    assert any(line.startswith("TMFGATE_LOG_LEVEL=") and line.endswith("# the default") for line in lines)


def test_the_markdown_table_is_the_readme_s(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "--markdown"]) == 0
    assert "`TMFGATE_DATABASE_URL`" in capsys.readouterr().out


def test_no_command_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve every API over HTTP" in capsys.readouterr().out


def test_a_bad_setting_is_a_sentence_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMFGATE_PORT", "eighty")
    assert main(["settings"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tmfgate: ") and "TMFGATE_PORT" in error


def test_the_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"tmfgate {__version__}"
