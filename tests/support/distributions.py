"""Installed distributions made importable elsewhere, offline: a folder of links to exactly their modules.

For an import path that holds only some packages of this environment (a Lambda's runtime and layers in
``tests/infra/test_assets.py``, a base install in ``tests/e2e/test_base_install.py``): the packages are the ones
this environment has installed, the versions ``constraints.txt`` pins, linked rather than downloaded or copied.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import Distribution, distribution
from pathlib import Path

from packaging.requirements import Requirement


def closure(requirements: Iterable[str]) -> list[Distribution]:
    """The installed distributions the requirements name and, recursively, what those require (no extras).

    Raises ``AssertionError`` when an installed version is not one a requirement allows."""
    found: dict[str, Distribution] = {}
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        dist = distribution(requirement.name)
        assert requirement.specifier.contains(dist.version, prereleases=True), (
            f"{requirement} is wanted, {dist.version} is installed"
        )
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key not in found:
            found[key] = dist
            pending.extend(Requirement(text) for text in dist.requires or [])
    return list(found.values())


def link_distributions(requirements: Iterable[str], into: Path) -> Path:
    """``into`` (created if need be) with a link to each top-level module and metadata folder of the
    distributions the requirements need, and nothing else."""
    into.mkdir(parents=True, exist_ok=True)
    for dist in closure(requirements):
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or (into / top).exists():
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists():
                (into / top).symlink_to(source, target_is_directory=source.is_dir())
    return into
