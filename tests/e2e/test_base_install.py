"""The base install (``pip install onthedot``) is what a client needs: a fresh virtual environment with only it
runs the CLI and schedules against a running local cloud, and has none of the local cloud's packages.

Offline and cheap: the package is built from the checkout's files (no build isolation, no index) and installed
into a virtual environment made without pip, with ``--no-deps``; the dependencies its metadata declares (no
extras) are then linked in from this environment's installed files, the versions ``constraints.txt`` pins,
checked against what the package asks for. The local cloud runs from the repository's environment, as
``make run`` starts it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.distributions import link_distributions
from tests.support.processes import REPO, running_cloud

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding onthedot as a wheel installs it, and its base dependencies only."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("base-install")
    source = root / "source"  # what the wheel is built from, so that the build writes nothing into the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "onthedot", source / "onthedot", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = root / "wheels"
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(wheels), str(source)],
        check=True,
        cwd=root,
    )
    [wheel] = wheels.glob("onthedot-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*PIP, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True)
    installed = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, json, sysconfig; "
            "print(json.dumps([sysconfig.get_path('purelib'), m.requires('onthedot') or []]))",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=root,
    )
    site_packages, requirements = json.loads(installed.stdout)
    link_distributions([r for r in requirements if "extra ==" not in r], Path(site_packages))
    print(f"base install made in {time.monotonic() - started:.1f} s")
    return venv


def run(base: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(base / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_base_install_has_none_of_the_local_clouds_packages(base: Path, tmp_path: Path) -> None:
    for module in ("moto", "jsonata", "aws_cdk", "starlette"):
        result = run(base, "python", "-c", f"import {module}", cwd=tmp_path)
        assert result.returncode == 1
        assert f"No module named '{module}'" in result.stderr
    # ... and its onthedot is the installed one, not the checkout's
    result = run(base, "python", "-c", "import onthedot; print(onthedot.__file__)", cwd=tmp_path)
    assert result.stdout.startswith(str(base)), result.stdout + result.stderr


def test_help_runs(base: Path, tmp_path: Path) -> None:
    result = run(base, "onthedot", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "schedule" in result.stdout


def test_local_from_the_package_says_it_needs_a_checkout(base: Path, tmp_path: Path) -> None:
    result = run(base, "onthedot", "local", "--exit-after", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("onthedot: onthedot local needs a checkout of the onthedot repository")
    assert "statemachine/dispatcher.asl.json is not there" in result.stderr


def test_local_from_a_checkout_without_the_extra_says_it_needs_the_extra(base: Path) -> None:
    # GIVEN the checkout's onthedot (python -m from the repository) in an environment without moto
    result = run(base, "python", "-m", "onthedot.cli", "local", "--exit-after", "1", cwd=REPO)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "onthedot local needs the local extra (moto is not installed): pip install -e '.[local]'" in result.stderr


def test_the_base_install_schedules_against_a_running_local_cloud(base: Path, tmp_path: Path) -> None:
    with running_cloud("--every", "3600") as cloud:
        # WHEN a one-time job and a recurring one (croniter, tzdata) are scheduled from the base install
        one = run(
            base, "onthedot", "schedule", "--in", "1h", "--type", "reminder", "--json", cwd=tmp_path, env=cloud.env
        )
        assert one.returncode == 0, one.stderr
        job = json.loads(one.stdout)
        series = run(
            base,
            *("onthedot", "schedule", "--cron", "0 9 * * 1", "--tz", "Europe/Berlin", "--type", "report", "--json"),
            cwd=tmp_path,
            env=cloud.env,
        )
        assert series.returncode == 0, series.stderr
        # THEN the local cloud holds the job, as the base install reads it back
        got = run(base, "onthedot", "get", job["id"], "--json", cwd=tmp_path, env=cloud.env)
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["id"] == job["id"]
