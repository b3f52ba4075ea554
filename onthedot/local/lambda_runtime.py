"""Runs a Lambda function's real handler in-process when moto is asked to invoke it.

moto invokes Lambda functions in Docker, or only echoes the payload without it. The local cloud registers the
functions it creates here, and moto's invoke calls their handler from ``functions/`` instead, with the
function's environment, as the Lambda runtime would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aws_lambda_powertools import Metrics
from moto.awslambda.models import LambdaFunction

from onthedot.local.patching import Patch

_environment_lock = threading.RLock()


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set process environment variables while a handler module is imported and prepared: handlers read their
    configuration and create their clients once, where on Lambda the environment is always set. What
    Powertools reads on every call (tracing and metrics switched off) the local cloud sets for the whole
    process."""
    with _environment_lock:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@dataclass
class InProcessFunction:
    """A handler file loaded as its own module, in the function's environment."""

    name: str
    handler_file: Path
    handler_name: str
    environment: dict[str, str]
    _module: ModuleType | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _handler(self) -> Callable[[Any, Any], Any]:
        with self._lock:
            if self._module is None:
                # A private module name, so that each local cloud gets its own copy of the handler's globals.
                module_name = f"_onthedot_local_{self.name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
                spec = importlib.util.spec_from_file_location(module_name, self.handler_file)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {self.handler_file}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module  # dataclasses look their module up there
                with _environment(self.environment):
                    spec.loader.exec_module(module)
                    # A handler reads its configuration and creates its clients on its first invocation, when
                    # this environment is no longer set: ``prepare()`` has it do so now.
                    prepare = getattr(module, "prepare", None)
                    if callable(prepare):
                        prepare()
                self._module = module
            return getattr(self._module, self.handler_name)

    def warm(self) -> None:
        """Import the handler module ahead of the first invocation."""
        self._handler()

    def invoke(self, event: Any) -> tuple[str, bool, str]:
        try:
            # No lock is held while the handler runs: it may call a service whose write invokes another
            # function in this process (a DynamoDB stream), as on AWS.
            result = self._handler()(event, _Context(self.name))
            self._clear_disabled_metrics()
            return json.dumps(result), False, ""
        except Exception as error:  # reported as Lambda reports a handled function error
            payload = {"errorMessage": str(error), "errorType": type(error).__name__}
            return json.dumps(payload), True, traceback.format_exc()

    def _clear_disabled_metrics(self) -> None:
        """Metrics are disabled locally, and Powertools never flushes, so never clears, disabled metrics."""
        for value in vars(self._module).values():
            if isinstance(value, Metrics):
                value.clear_metrics()


@dataclass(frozen=True)
class _Context:
    function_name: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


_functions: dict[str, InProcessFunction] = {}
_original_invoke = LambdaFunction._invoke_lambda


def register(function: InProcessFunction) -> None:
    _functions[function.name] = function


def unregister(name: str) -> None:
    _functions.pop(name, None)


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    function = _functions.get(self.function_name)
    if function is None:
        return _original_invoke(self, event)
    return function.invoke(event if event is not None else {})


# ``_invoke_lambda(self, event) -> (payload, errored, logs)``: registered functions run here, others as before.
PATCHES: tuple[Patch, ...] = (
    Patch(LambdaFunction, "_invoke_lambda", _invoke_lambda, why="moto runs Lambda functions in Docker"),
)
