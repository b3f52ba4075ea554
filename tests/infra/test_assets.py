"""Each function's handler imported from its built asset, with only what Lambda gives it.

A function runs from its asset (``functions/<folder>`` and the core package, ``infra.functions.code_exclude``),
its layers (the Powertools layer and, where the template names it, the dependencies layer) and the runtime's own
boto3. Here each handler is imported in a subprocess whose ``sys.path`` is exactly that: the synthesized asset
directory, its layers (the Powertools layer stood in for by this environment's ``aws_lambda_powertools`` and
``aws_xray_sdk``, the dependencies layer by its synthesized asset) and boto3 with what it needs. Neither the
repository nor this environment's site-packages is on it, so a module a function imports but its asset does not
ship fails here, not after a deploy. Then the function reads its configuration from the environment the
template gives it and creates its clients, as on its first invocation (no request is sent).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.functions import POWERTOOLS_LAYER_PARAMETER
from tests.support.distributions import link_distributions
from tests.support.synthesis import Synthesized

# What the Lambda Python runtime provides, and what AWS's Powertools layer holds, with their dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3",)
POWERTOOLS_LAYER_DISTRIBUTIONS = ("aws-lambda-powertools", "aws-xray-sdk")
FUNCTIONS = ("publish", "rewind", "example_worker")

# Run with -I -S: no site-packages, no PYTHONPATH, no working directory on sys.path (argv[2:] is the path);
# -B: no bytecode written into the assets, which other tests list.
IMPORT_HANDLER = """
import importlib, json, os, sys
module_name, paths = sys.argv[1], sys.argv[2:]
sys.path[:0] = paths
module = importlib.import_module(module_name)
assert callable(module.handler)
config = None
if hasattr(module, "prepare"):
    module.prepare()
    config = vars(module.config())
allowed = tuple(os.path.join(os.path.abspath(root), "") for root in (*paths, sys.base_prefix))
outside = [name for name, loaded in list(sys.modules.items())
           if getattr(loaded, "__file__", None) and not os.path.abspath(loaded.__file__).startswith(allowed)]
print(json.dumps({"onthedot": sys.modules["onthedot"].__file__, "config": config, "outside": sorted(outside)}))
"""


@pytest.fixture(scope="module")
def lambda_given(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stand-ins for the runtime's boto3 and the Powertools layer, from this environment's packages."""
    root = tmp_path_factory.mktemp("lambda-given")
    return {
        "runtime": link_distributions(RUNTIME_DISTRIBUTIONS, root / "runtime"),
        "powertools": link_distributions(POWERTOOLS_LAYER_DISTRIBUTIONS, root / "powertools"),
    }


def asset_of(synthesized: Synthesized, properties: dict[str, Any], key: str) -> Path:
    asset = synthesized.directory / f"asset.{properties[key]['S3Key'].removesuffix('.zip')}"
    assert asset.is_dir(), asset
    return asset


def import_path(synthesized: Synthesized, function: dict[str, Any], given: dict[str, Path]) -> list[Path]:
    """The function's asset, its layers in order, then the runtime: the path Lambda imports it from."""
    template = synthesized.template.to_json()
    path = [asset_of(synthesized, function["Properties"], "Code")]
    for layer in function["Properties"]["Layers"]:
        reference = layer["Ref"]
        parameter = template.get("Parameters", {}).get(reference)
        if parameter is not None:
            assert parameter["Default"] == POWERTOOLS_LAYER_PARAMETER, f"a layer this test does not know: {parameter}"
            path.append(given["powertools"])
        else:
            resource = template["Resources"][reference]
            assert resource["Type"] == "AWS::Lambda::LayerVersion", f"a layer this test does not know: {resource}"
            path.append(asset_of(synthesized, resource["Properties"], "Content") / "python")
    return [*path, given["runtime"]]


def run_isolated(
    module: str, path: list[Path], environment: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", IMPORT_HANDLER, module, *map(str, path)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def function_environment(function: dict[str, Any]) -> dict[str, str]:
    """The template's variables (a reference to a table or bus stands as a name), and the region Lambda sets."""
    variables = function["Properties"].get("Environment", {}).get("Variables", {})
    named = {name: value if isinstance(value, str) else f"ref-{name.lower()}" for name, value in variables.items()}
    return {**named, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}


@pytest.mark.parametrize("folder", FUNCTIONS)
def test_the_handler_imports_from_its_built_asset_with_only_what_lambda_gives_it(
    with_workers: Synthesized, lambda_given: dict[str, Path], tmp_path: Path, folder: str
) -> None:
    # GIVEN the function as synthesized: its asset, its layers, the runtime's boto3, nothing else
    logical_id = with_workers.logical_id("AWS::Lambda::Function", Handler=f"functions.{folder}.app.handler")
    function = with_workers.template.to_json()["Resources"][logical_id]
    path = import_path(with_workers, function, lambda_given)
    environment = function_environment(function)

    # WHEN its handler module is imported there, and reads its configuration and makes its clients
    result = run_isolated(f"functions.{folder}.app", path, environment, cwd=tmp_path)

    # THEN everything it needs is there: the core package from the asset, nothing from anywhere else
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["onthedot"] == str(path[0] / "onthedot" / "__init__.py")
    assert loaded["outside"] == []
    if loaded["config"] is not None:  # ... and the template's environment is the configuration it reads
        assert {"bucket_minutes", "shards"} <= set(loaded["config"])


def test_a_module_the_asset_does_not_ship_fails_the_import(
    with_workers: Synthesized, lambda_given: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN the publish function's asset with one import more: of the client (in the repository, not shipped)
    logical_id = with_workers.logical_id("AWS::Lambda::Function", Handler="functions.publish.app.handler")
    function = with_workers.template.to_json()["Resources"][logical_id]
    path = import_path(with_workers, function, lambda_given)
    changed = tmp_path / "asset"
    shutil.copytree(path[0], changed)
    app = changed / "functions" / "publish" / "app.py"
    app.write_text(app.read_text() + "\nimport onthedot.client\n")
    # WHEN it is imported as Lambda would THEN it fails, naming the module
    result = run_isolated("functions.publish.app", [changed, *path[1:]], function_environment(function), tmp_path)
    assert result.returncode != 0
    assert "No module named 'onthedot.client'" in result.stderr
    # ... and so does a package of this environment that no layer holds (the local cloud's moto)
    app.write_text(app.read_text().replace("import onthedot.client", "import moto"))
    result = run_isolated("functions.publish.app", [changed, *path[1:]], function_environment(function), tmp_path)
    assert "No module named 'moto'" in result.stderr
