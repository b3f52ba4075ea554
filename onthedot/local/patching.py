"""Reversible patches of moto's internals: one named attribute each, installed and removed as a pair.

A ``Patch`` remembers what it replaces when it is made, so a moto upgrade that moves the target fails at import
(``KeyError``), not silently at run time. ``PatchSet`` counts its installs, so two local clouds in one process
share the patches and the last one stopped leaves moto as it found it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


@dataclass
class Patch:
    """``target.<name>`` replaced by ``replacement`` while installed."""

    target: type | ModuleType
    name: str
    replacement: Any
    why: str
    original: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.original = vars(self.target)[self.name]  # the raw attribute: staticmethods stay staticmethods

    @property
    def qualified_name(self) -> str:
        if isinstance(self.target, ModuleType):
            return f"{self.target.__name__}.{self.name}"
        return f"{self.target.__module__}.{self.target.__qualname__}.{self.name}"

    @property
    def installed(self) -> bool:
        return vars(self.target)[self.name] is self.replacement

    def install(self) -> None:
        setattr(self.target, self.name, self.replacement)

    def uninstall(self) -> None:
        setattr(self.target, self.name, self.original)


@dataclass
class FunctionPatch(Patch):
    """A module-level function replaced in its module and in every loaded module that imported it by name
    (``from x import f`` binds ``f`` at import, so patching ``x.f`` alone would miss those callers)."""

    importers: tuple[str, ...] = ()
    _sites: list[ModuleType] = field(default_factory=list, init=False, repr=False)

    def install(self) -> None:
        self._sites = [
            sys.modules[name] for name in self.call_sites() if vars(sys.modules[name])[self.name] is self.original
        ]
        for module in self._sites:
            setattr(module, self.name, self.replacement)

    def uninstall(self) -> None:
        for module in self._sites:
            setattr(module, self.name, self.original)
        self._sites = []

    def call_sites(self) -> list[str]:
        """The loaded modules that hold the function by name, its own included."""
        return [
            name
            for name, module in list(sys.modules.items())
            if (module is self.target or name.startswith(self.importers))
            and isinstance(module, ModuleType)
            and vars(module).get(self.name) in (self.original, self.replacement)
        ]


class PatchSet:
    """Patches installed together; nested installs are counted, so only the last uninstall restores moto."""

    def __init__(self, patches: Iterable[Patch]) -> None:
        self.patches = tuple(patches)
        self._installs = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        with self._lock:
            if self._installs == 0:
                for patch in self.patches:
                    patch.install()
            self._installs += 1

    def uninstall(self) -> None:
        with self._lock:
            if self._installs == 0:
                return
            self._installs -= 1
            if self._installs == 0:
                for patch in reversed(self.patches):
                    patch.uninstall()
