"""Review findings in realtime_sync.cli."""

from __future__ import annotations

import pytest

from realtime_sync.cli.main import build_parser

SECRET = "sk-test-Zq81SecretValueThatMustNeverLeak"


@pytest.mark.parametrize(
    "argv",
    [
        ["chat", "--header", f"api-key={SECRET}"],  # '=' typed for ':'
        ["chat", "--proxy", f"ftp://user:{SECRET}@proxy.example:1"],
        ["chat", "--url", f"ftp://relay.example/?api-key={SECRET}"],
    ],
)
def test_a_rejected_argument_never_echoes_its_credential(argv: list, capsys: pytest.CaptureFixture) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    err = capsys.readouterr().err
    assert "error" in err
    assert SECRET not in err
