"""docs/pipeline.md's state-machine picture is generated from definitions/ and kept in sync."""

from __future__ import annotations

import json

from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.contract import definition
from aurora_restore_cli.face import diagram

from ..conftest import ROOT


def test_the_documented_diagram_matches_the_definition() -> None:
    page = (ROOT / "docs" / "pipeline.md").read_text()
    assert diagram.markdown_block() in page, (
        "docs/pipeline.md's diagram is stale: run `aurora-restore diagram --write docs/pipeline.md`"
    )


def test_every_state_and_transition_is_drawn() -> None:
    picture = diagram.mermaid()
    states = json.loads(diagram.definition.render(
        definition.load_template(),
        {name: ("x" if name.endswith("Arn") else {} if name == "Settings" else 1)
         for name in definition.placeholders()},
    ))["States"]
    for name, state in states.items():
        assert f'"{name}"' in picture
        if "Next" in state:
            assert f"{diagram._node(name)} --> {diagram._node(state['Next'])}" in picture
        for choice in state.get("Choices", []):
            assert f"{diagram._node(name)} --> {diagram._node(choice['Next'])}" in picture


def test_diagram_command_prints_mermaid() -> None:
    result = CliRunner().invoke(cli, ["diagram"])
    assert result.exit_code == 0
    assert result.stdout.startswith("flowchart TD")
