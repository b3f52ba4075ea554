"""Import boundaries between the sub-packages: nothing below may import anything above it.

``onthedot.core`` is what the Lambda functions ship whole, so it imports nothing from the client, the CLI, the
deployment settings, the console or the local cloud, nor the local cloud's and the CDK app's dependencies. The
client sits on core alone. The CLI reaches the local cloud only when ``onthedot local`` runs.

Each boundary is checked twice: statically, every import statement of every module (inside functions and
``TYPE_CHECKING`` blocks too), and in a fresh interpreter, what importing the modules loads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "onthedot"

# The local cloud's, the CDK app's and the console's dependencies: none of them is in a Lambda asset.
HEAVY_DEPENDENCIES = ("moto", "jsonata", "aws_cdk", "starlette")
ABOVE_CORE = ("onthedot.client", "onthedot.cli", "onthedot.local", "onthedot.ui", "onthedot.deploy")
ABOVE_CLIENT = ("onthedot.cli", "onthedot.local", "onthedot.ui", "onthedot.deploy")
LOCAL_CLOUD = ("onthedot.local", "moto", "jsonata")


def modules_of(package: str) -> dict[str, Path]:
    """Every module of a sub-package of onthedot, by its dotted name."""
    folder = REPO.joinpath(*package.split("."))
    found = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(module: str, path: Path) -> set[str]:
    """The absolute name of every module an import statement of this file names (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from onthedot import cli`
    return names


def within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def static_violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {name}"
        for module, path in modules_of(package).items()
        for name in sorted(imported_names(module, path))
        if within(name, forbidden)
    ]


def loaded_after_importing(*modules: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter once it has imported these modules."""
    program = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    # GIVEN a module with an absolute, a relative, a nested and a TYPE_CHECKING import
    source = tmp_path / "plan.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import keys\n"
        "from ..client import table\n"
        "if TYPE_CHECKING:\n"
        "    import moto.core\n"
        "def later():\n"
        "    from onthedot.local.cloud import LocalCloud\n"
    )
    # WHEN its imports are read as a module of onthedot.core
    names = imported_names("onthedot.core.plan", source)
    # THEN each is seen under its absolute name
    assert {"onthedot.core.keys", "onthedot.client.table", "moto.core", "onthedot.local.cloud"} <= names
    assert within("onthedot.client.table", ABOVE_CORE)
    assert not within("onthedot.clientele", ABOVE_CORE)


# Each package, and what it must not reach: core is below everything, the client sits on core alone.
BOUNDARIES = pytest.mark.parametrize(
    ("package", "forbidden"),
    [("onthedot.core", ABOVE_CORE + HEAVY_DEPENDENCIES), ("onthedot.client", ABOVE_CLIENT + HEAVY_DEPENDENCIES)],
)


@BOUNDARIES
def test_no_module_imports_across_its_boundary(package: str, forbidden: tuple[str, ...]) -> None:
    assert len(modules_of(package)) > 5
    assert static_violations(package, forbidden) == []


@BOUNDARIES
def test_importing_every_module_loads_nothing_across_its_boundary(package: str, forbidden: tuple[str, ...]) -> None:
    modules = modules_of(package)
    loaded = loaded_after_importing(*modules)
    assert set(modules) <= loaded
    assert sorted(name for name in loaded if within(name, forbidden)) == []


def test_cli_imports_no_local_cloud() -> None:
    """``onthedot --help`` and every command but ``local`` run without the local cloud installed."""
    loaded = loaded_after_importing("onthedot.cli")
    assert sorted(name for name in loaded if within(name, LOCAL_CLOUD)) == []
