"""moto's Step Functions interpreter made to keep time as AWS does, and to tell the local cloud when a run ends.

- Wait states (moto 5.2.5 ``WaitFunction``): a ``Timestamp`` is compared with the naive *local* clock, so it
  leaves early or late by the machine's UTC offset, and the remaining seconds are truncated with ``int()``, so a
  loop "wait until the next whole second" spins. Here every form waits until its UTC instant, on the execution's
  own event (a stop or an error still ends the wait at once), never in a busy loop. As AWS documents, a
  Timestamp counts whole seconds: its fraction is dropped (``…T12:00:01.900Z`` waits until ``12:00:01Z``).
- Express executions end ``FAILED`` with ``States.Timeout`` once they pass their limit (AWS: 5 minutes); moto
  lets them run on. ``express_limit`` holds the limit for this process, as moto holds its state per process.
- When an execution ends, its ARN is announced to ``finished`` (so the local cloud waits for a run without
  polling), and moto's memory of old runs is trimmed: the last ``KEEP_FINISHED`` finished executions of each
  state machine stay readable, and moto's list of every thread it ever started forgets the finished ones.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from collections import OrderedDict
from typing import Any

from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, ExecutionStatus, StateMachineType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import TIMESTAMP_PATTERN, Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.stepfunctions.parser.utils import TMP_THREADS

from onthedot.local.patching import Patch

AWS_EXPRESS_LIMIT_SECONDS = 300.0
KEEP_FINISHED = 50  # finished executions kept per state machine, newest first

# -- Wait states ------------------------------------------------------------------------------------------


def timestamp_instant(text: Any) -> float | None:
    """The POSIX time a Wait ``Timestamp`` stands for, fraction of a second dropped as AWS does; ``None`` when
    it is not ``YYYY-MM-DDTHH:MM:SS[.fff]Z``."""
    if not isinstance(text, str) or re.match(TIMESTAMP_PATTERN, text) is None:
        return None
    try:
        moment = datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
    except ValueError:  # the pattern lets month 13 through
        return None
    return moment.timestamp()


def _wait_instant(wait: WaitFunction, env: Environment) -> float:
    if isinstance(wait, Timestamp):  # and TimestampPath, its subclass
        wait.string.eval(env=env)
        text = env.stack.pop()
        instant = timestamp_instant(text)
        if instant is None:
            raise FailureEventException(wait._create_failure_event(env, text))
        return instant
    return time.time() + wait._get_wait_seconds(env=env)  # Seconds, SecondsPath, Seconds in JSONata


def _wait_eval_body(self: WaitFunction, env: Environment) -> None:
    """Wait until the instant, in UTC; a stop, an error or a timeout of the execution ends the wait."""
    instant = _wait_instant(self, env)
    while env.is_running():
        remaining = instant - time.time()
        if remaining <= 0:
            return
        env.program_state_event.wait(remaining)  # set on every change of the execution's state


# -- the Express limit ------------------------------------------------------------------------------------


class ExpressLimit:
    """How long an Express execution may run in this process before it fails with ``States.Timeout``."""

    def __init__(self, seconds: float = AWS_EXPRESS_LIMIT_SECONDS) -> None:
        self.seconds = seconds


express_limit = ExpressLimit()
_original_program_eval = Program.eval


def _program_eval(self: Program, env: Environment) -> None:
    """moto's ``Program.eval`` (run the states on a worker thread, stop waiting at ``TimeoutSeconds``), with the
    Express limit as a second, shorter deadline that fails the execution as AWS does."""
    if env.is_frame() or not _is_express(env):
        _original_program_eval(self, env)
        return
    limit = express_limit.seconds
    definition_timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
    env.next_state_name = self.start_at.start_at_name
    worker = threading.Thread(target=EvalComponent.eval, args=(self, env), daemon=True)
    TMP_THREADS.append(worker)
    worker.start()
    worker.join(timeout=limit if definition_timeout is None else min(limit, definition_timeout))
    if not worker.is_alive():
        return
    if definition_timeout is not None and definition_timeout <= limit:
        env.set_timed_out()
    else:
        # The worker sees the error when its current state returns, and records ExecutionFailed.
        env.set_error(
            ExecutionFailedEventDetails(
                error="States.Timeout",
                cause=f"The execution ran longer than the {limit:g}-second limit of an Express workflow.",
            )
        )


def _is_express(env: Environment) -> bool:
    """Whether the execution's state machine is Express. moto 5.2.5 passes every execution the type STANDARD
    (its ``StateMachine.sm_type`` is never set), so the type is read from the state machine itself."""
    details = env.aws_execution_details
    arn = env.states.context_object.context_object_data["StateMachine"]["Id"]
    machines = stepfunctions_parser_backends[details.account][details.region].state_machines
    return any(machine.arn == arn and machine.type == StateMachineType.EXPRESS for machine in machines)


# -- the end of an execution ------------------------------------------------------------------------------


class Finished:
    """ARNs of the executions that ended in this process (the most recent ones), for waiters."""

    def __init__(self, remember: int = 10_000) -> None:
        self._arns: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._changed = threading.Condition()

    def add(self, arn: str) -> None:
        with self._changed:
            self._arns[arn] = None
            while len(self._arns) > self._remember:
                self._arns.popitem(last=False)
            self._changed.notify_all()

    def wait(self, arn: str, timeout: float | None = None) -> bool:
        """True once execution ``arn`` has ended; False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: arn in self._arns, timeout=timeout)


finished = Finished()
_original_terminated = BaseExecutionWorkerCommunication.terminated


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    _original_terminated(self)  # the execution's status, output and error are set here
    finished.add(self.execution.exec_arn)
    _forget_old_executions(self.execution)
    TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]  # moto never reads the list


def _forget_old_executions(execution: Execution) -> None:
    backend = stepfunctions_parser_backends[execution.account_id][execution.region_name]
    machine = next((m for m in backend.state_machines if m.arn == execution.state_machine_arn), None)
    if machine is None:  # a version, or a state machine deleted meanwhile
        return
    running = (None, ExecutionStatus.RUNNING)
    ended = [e for e in list(machine.executions) if getattr(e, "exec_status", None) not in running]
    for old in ended[:-KEEP_FINISHED]:
        machine.executions.remove(old)  # one at a time: a start may append meanwhile


PATCHES: tuple[Patch, ...] = (
    Patch(WaitFunction, "_eval_body", _wait_eval_body, why="Timestamp against the naive local clock, int() seconds"),
    Patch(Program, "eval", _program_eval, why="the 5-minute limit of Express executions is not enforced"),
    Patch(
        BaseExecutionWorkerCommunication,
        "terminated",
        _terminated,
        why="announce the end of a run; keep moto's memory of runs bounded",
    ),
)
