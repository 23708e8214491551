"""The docs stay true: every setting and every command is documented."""

import subprocess
import sys
from pathlib import Path

from dailypapers.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_the_configuration_docs():
    text = (ROOT / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.name}` | `{setting.env}` |" in text, setting.name


def test_cli_reference_is_generated_from_the_current_help():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_docs.py"), "--check"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, "docs/cli.md is stale: run python scripts/cli_docs.py"


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
