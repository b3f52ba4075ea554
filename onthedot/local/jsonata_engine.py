"""JSONata for moto's Step Functions interpreter, evaluated by jsonata-python.

moto 5.2.5 ships the interpreter with no JSONata evaluator (``_eval_jsonata = None``), and its design splices
``$states`` and every variable into the expression text as JSON literals, which breaks on string values holding
``"`` or ``\\`` and costs time in proportion to all the data on every expression. Here the expression is
compiled once and the values are passed as bindings, so any string arrives intact.

``PATCHES`` replace the two evaluating methods of moto's string-expression components; a guard test fails
loudly when a moto upgrade moves them.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jsonata.functions import Functions
from jsonata.jsonata import Jsonata
from jsonata.utils import Utils
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from onthedot.local.patching import Patch


def _partition(array: list[Any], size: float) -> list[list[Any]]:
    step = int(size)
    if step <= 0:
        raise ValueError("$partition: chunk size must be positive")
    return [array[start : start + step] for start in range(0, len(array), step)]


def _range(first: float, last: float, step: float) -> list[float]:
    values: list[float] = []
    value = first
    while (step > 0 and value <= last) or (step < 0 and value >= last):
        values.append(value)
        value += step
    return values


def _hash(value: str, algorithm: str = "SHA-256") -> str:
    name = algorithm.replace("-", "").lower()
    return hashlib.new(name, value.encode("utf-8")).hexdigest()


def _parse(text: str) -> Any:
    return _to_jsonata(json.loads(text))


def _to_millis(timestamp: str | None, picture: str | None = None) -> int | None:
    """jsonata-python 0.7.1 computes ``$toMillis`` through a float and can come out a millisecond short."""
    if timestamp is None or picture is not None:
        return Functions.datetime_to_millis(timestamp, picture)
    moment = datetime.datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# jsonata-python's built-ins that answer differently from the JavaScript reference implementation AWS runs.
JSONATA_FIXES: dict[str, Callable[..., Any]] = {"toMillis": _to_millis}

# The Step Functions additions to JSONata (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
STEP_FUNCTIONS_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "uuid": lambda: str(uuid.uuid4()),
    "parse": _parse,
}


def aws_time(moment: datetime.datetime) -> str:
    """A timestamp as Step Functions renders it in the context object: ``2026-02-09T11:33:00.123Z``."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _to_jsonata(value: Any) -> Any:
    """JSON-like data as jsonata-python reads it: ``null`` is its NULL_VALUE, not ``None`` (undefined)."""
    if value is None:
        return Utils.NULL_VALUE
    if isinstance(value, dict):
        return {key: _to_jsonata(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_jsonata(item) for item in value]
    if isinstance(value, datetime.datetime):
        return aws_time(value)
    return value


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> Jsonata:
    compiled = Jsonata(expression)
    compiled.set_output_convert_nulls(False)
    for name, function in {**STEP_FUNCTIONS_FUNCTIONS, **JSONATA_FIXES}.items():
        compiled.register_lambda(name, function)
    return compiled


class Undefined(Exception):
    """The expression returned nothing."""


def evaluate(expression: str, bindings: dict[str, Any]) -> Any:
    """Evaluate ``expression`` with ``bindings`` (names without ``$``); JSON-like result."""
    compiled = _compiled(expression)
    # jsonata-python 0.7.1 answers $now() and $millis() from the thread's "current" instance, which is the last
    # one constructed, not the one evaluating: with compiled expressions cached, that clock would be stale.
    Jsonata.CURRENT.jsonata = compiled
    result = compiled.evaluate(None, {name: _to_jsonata(value) for name, value in bindings.items()})
    if result is None:
        raise Undefined(expression)
    return Utils.convert_nulls(result)


@lru_cache(maxsize=1024)
def _names_in(expression: str) -> frozenset[str]:
    """Every ``$name`` in the expression. moto's ``extract_jsonata_variable_references`` skips whatever stands
    between two division signs, taking it for a regular expression (``$a / 60 + $b / 2`` loses ``$b``); naming
    too much here is harmless, a name that is no variable binds nothing."""
    return frozenset(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", expression))


def _bindings(env: Environment, expression: str, *, with_states: bool) -> dict[str, Any]:
    """Only what the expression refers to: ``$states`` and the workflow variables it names."""
    names = _names_in(expression)
    bindings: dict[str, Any] = {}
    if with_states and "states" in names:
        bindings["states"] = env.states._states_data
    store = env.variable_store
    for name in names - {"states"} - STEP_FUNCTIONS_FUNCTIONS.keys():
        if name in store._inner_scope:
            bindings[name] = store._inner_scope[name]
        elif name in store._outer_scope:
            bindings[name] = store._outer_scope[name]
    return bindings


def _fail(env: Environment, cause: str) -> FailureEventException:
    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    details = EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict lists every kind as required
        evaluationFailedEventDetails=EvaluationFailedEventDetails(error=error_name.error_name, cause=cause)
    )
    env.event_manager.add_event(
        context=env.event_history_context, event_type=HistoryEventType.EvaluationFailed, event_details=details
    )
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=details,
        )
    )


def _evaluate_in(env: Environment, expression: str, *, with_states: bool) -> Any:
    try:
        return evaluate(expression, _bindings(env, expression, with_states=with_states))
    except Undefined:
        raise _fail(env, f"The JSONata expression '{expression}' returned nothing (undefined).") from None
    except FailureEventException:
        raise
    except Exception as error:
        raise _fail(env, f"An error occurred while evaluating the expression '{expression}': {error}") from None


def _jsonata_eval_body(self: Any, env: Environment) -> None:
    env.stack.append(_evaluate_in(env, self.expression, with_states=True))


def _variable_sample_eval_body(self: Any, env: Environment) -> None:
    with_states = self.query_language_mode == QueryLanguageMode.JSONata
    env.stack.append(_evaluate_in(env, self.expression, with_states=with_states))


PATCHES: tuple[Patch, ...] = (
    Patch(string_expression.StringJSONata, "_eval_body", _jsonata_eval_body, why="moto has no JSONata evaluator"),
    Patch(
        string_expression.StringVariableSample,
        "_eval_body",
        _variable_sample_eval_body,
        why="moto splices variables into the expression text",
    ),
)
