"""The house rules of docs/architecture.md, checked on the source: each layer imports only
the layers below it, and SQL (SQLAlchemy) is written in storage/ alone."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dailypapers"
# What each layer may import from the package (besides itself).
ALLOWED = {
    "domain": set(),
    "storage": {"domain"},
    "ingest": {"domain", "storage"},
    "search": {"domain", "storage", "config"},
    "services": {"domain", "storage", "ingest", "search", "config", "ratelimit"},
    "jobs": {"domain", "storage", "services", "search", "ingest", "config"},
    "web": {"domain", "storage", "services", "search", "ingest", "config", "ratelimit", "jobs"},
    "cli": {"domain", "storage", "services", "search", "ingest", "config", "jobs"},
}


def imported_layers(path: Path, source: str | None = None) -> set[str]:
    """The top-level parts of the package a module imports (relative or absolute)."""
    tree = ast.parse(path.read_text() if source is None else source)
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module[: len(module) - node.level])
                target = [*base, *(node.module.split(".") if node.module else [])]
                if len(target) == 1:  # `from .. import config`
                    found.update(alias.name for alias in node.names)
                else:
                    found.add(target[1])
            elif node.module and node.module.startswith("dailypapers."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dailypapers."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below(layer):
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        wrong = imported_layers(path) - ALLOWED[layer] - {layer, "__version__"}
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"


def test_sql_lives_in_storage():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "storage" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "sqlalchemy" for n in names), path


def test_the_checker_sees_every_form_of_import():
    module = PACKAGE / "storage" / "example.py"
    source = (
        "from ..web.app import create_app\n"
        "from .schema import papers\n"
        "from .. import config\n"
        "import dailypapers.search.keyword\n"
        "def later():\n    from ..services import community\n"
    )
    assert imported_layers(module, source) == {"web", "storage", "config", "search", "services"}
