"""The user's Python and Node.js code, run as Lambda runs it: execution environments as worker
processes apart from the emulator's event loop (`bootstrap.py`, or `bootstrap.js` on the system's
`node`, in each), one invocation at a time per environment,
a cold start (the init phase, timed) when none is idle, warm reuse after.

What Lambda does to an environment, this does to a process: a timeout, a crash, a failed init or
memory past the function's setting ends it, and the caller gets Lambda's error for it. Nothing a
handler does blocks the emulator or another invocation.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from simulator.emulator.functions import HandlerResult, LambdaContext
from simulator.scenario.spec import CodeSpec, node_binary

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
BOOTSTRAP_JS = os.path.join(os.path.dirname(BOOTSTRAP), "bootstrap.js")
INIT_LIMIT_S = 10.0  # Lambda's limit on the init phase of an on-demand environment
_HEADER = struct.Struct(">I")
_STDERR_LINES = 50
# How Lambda's runtime API words a process's end (Go's os.ProcessState strings).
_SIGNAL_WORDS = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
                 signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception"}


def exit_words(returncode: int | None) -> str:
    if returncode is None:
        return "signal: killed"
    if returncode < 0:
        sig = -returncode
        return f"signal: {_SIGNAL_WORDS.get(sig, signal.Signals(sig).name.lower())}"  # type: ignore[call-overload]
    return f"exit status {returncode}"


class _Environment:
    """One execution environment: a bootstrap process and the tail of what it wrote to stderr."""

    def __init__(self, process: asyncio.subprocess.Process, variables: dict[str, str]) -> None:
        self.process, self.variables = process, variables
        self.stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self.drain = asyncio.ensure_future(self._drain())
        self.provisioned = False  # one of the version's provisioned concurrency, initialised before any invocation

    @classmethod
    async def start(cls, command: list[str], environment: dict[str, str]) -> _Environment:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment,
            start_new_session=True)
        return cls(process, environment)

    async def _drain(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.stderr.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def read(self) -> dict[str, Any] | None:
        """The next frame, or None when the process is gone."""
        assert self.process.stdout is not None
        try:
            head = await self.process.stdout.readexactly(_HEADER.size)
            return orjson.loads(await self.process.stdout.readexactly(_HEADER.unpack(head)[0]))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def send(self, message: dict[str, Any]) -> bool:
        assert self.process.stdin is not None
        body = orjson.dumps(message)
        try:
            self.process.stdin.write(_HEADER.pack(len(body)) + body)
        except (ConnectionError, RuntimeError):
            return False
        return True

    def alive(self) -> bool:
        """Whether the process still runs, as far as the loop has seen (its exit, or its pipe's end)."""
        if self.process.returncode is not None:
            return False
        if self.process.stdout is not None and self.process.stdout.at_eof():
            return False
        try:  # a zombie the loop has not reaped yet has exited too
            return os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:  # reaped already
            return False

    async def exit_code(self) -> int | None:
        try:
            return await asyncio.wait_for(self.process.wait(), 5.0)
        except TimeoutError:
            self.kill()
            return None

    def kill(self) -> None:
        """End the process and close its pipes now (closing the transport kills a live process),
        so nothing is left for the garbage collector to close after the loop has gone."""
        self.drain.cancel()
        transport = getattr(self.process, "_transport", None)
        if transport is not None:
            transport.close()
        elif self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass


class ProcessHandler:
    """The execution environments of one version's code (idle ones kept for warm starts), and those
    its provisioned concurrency keeps initialised."""

    def __init__(self, code: CodeSpec, max_idle: int = 64) -> None:
        self.code = code
        self.max_idle = max_idle
        self.idle: list[_Environment] = []
        self.busy: set[_Environment] = set()
        self.cold_starts = 0
        self.trace_field = "trace" if code.node else "stackTrace"  # each runtime's error shape
        self.provisioned_target = 0  # environments provisioned concurrency keeps for this code
        self.provisioned_live = 0  # of them, initialised or initialising, idle or busy
        self.provisioned_idle: list[_Environment] = []
        self.provision_failure: str | None = None  # why the last provisioned environment did not initialise
        self._provisioning: set[asyncio.Task[None]] = set()
        self._provisioned_variables: Callable[[], dict[str, str]] = dict  # a provisioned environment's, each new

    def provision(self, target: int, environment: Callable[[], dict[str, str]]) -> None:
        """Keep `target` environments initialised ahead of invocations, as Lambda's provisioned
        concurrency does: more are initialised in the background now; of fewer, the idle ones end now
        and the busy ones when their invocation is over."""
        self.provisioned_target, self._provisioned_variables = target, environment
        while self.provisioned_live < target:
            self.provisioned_live += 1
            task = asyncio.get_running_loop().create_task(self._provision_one(environment()))
            self._provisioning.add(task)
            task.add_done_callback(self._provisioning.discard)
        while self.provisioned_live > target and self.provisioned_idle:
            self.provisioned_idle.pop().kill()
            self.provisioned_live -= 1

    async def _provision_one(self, variables: dict[str, str]) -> None:
        env = await self._initialised(variables)
        if env is None:  # Lambda's allocation fails too (FUNCTION_ERROR_INIT_FAILURE): not retried here
            self.provisioned_live -= 1
            self.provision_failure = "FUNCTION_ERROR_INIT_FAILURE"
            return
        env.provisioned = True
        self._release_provisioned(env)

    async def settled(self) -> None:
        """Returns once the provisioned environments being initialised are (or have failed to be)."""
        if self._provisioning:
            await asyncio.gather(*self._provisioning, return_exceptions=True)

    @property
    def provisioned_ready(self) -> int:
        """Provisioned environments initialised (idle or busy)."""
        return self.provisioned_live - len(self._provisioning)

    def _release_provisioned(self, env: _Environment) -> None:
        if self.provisioned_live > self.provisioned_target:
            env.kill()
            self.provisioned_live -= 1
        else:
            self.provisioned_idle.append(env)

    def _provisioned_environment(self) -> _Environment | None:
        env, ended = _first_alive(self.provisioned_idle)
        if ended:  # ended while idle (killed from outside): replaced, as Lambda keeps its provisioned concurrency
            self.provisioned_live -= ended
            self.provision(self.provisioned_target, self._provisioned_variables)
        return env

    async def run(self, event: Any, context: LambdaContext, timeout_s: float,
                  environment: Callable[[], dict[str, str]], provisioned: bool = False) -> HandlerResult:
        """`provisioned`: the invoked version has provisioned concurrency, so an idle provisioned
        environment serves it first (no init); with none idle, it spills over to on-demand ones."""
        started = time.monotonic()
        init_ms: float | None = None
        env = self._provisioned_environment() if provisioned else None
        if env is None:
            env = self._idle_environment()
        if env is None:
            self.cold_starts += 1
            variables = environment()
            env = await _Environment.start(runtime_command(self.code, variables), variables)
            self.busy.add(env)
            try:
                ready = await asyncio.wait_for(env.read(), INIT_LIMIT_S)
            except TimeoutError:
                return self._end(env, HandlerResult(
                    error_type="Runtime.Unknown", error_message=f"RequestId: {context.aws_request_id} "
                    f"Error: Init phase did not complete within {INIT_LIMIT_S:.0f} seconds"))
            init_ms = (time.monotonic() - started) * 1000
            if ready is None:
                return self._end(env, await self._exited(env, context, init_ms))
            if "init_error" in ready:
                error = ready["init_error"]
                return self._end(env, HandlerResult(
                    error_type=error["errorType"], error_message=error["errorMessage"],
                    stack_trace=tuple(error["stackTrace"]), logs=ready.get("logs", ""), init_ms=init_ms,
                    trace_field=self.trace_field))
        else:
            self.busy.add(env)
        remaining = timeout_s  # an on-demand init has its own limit, not the function's timeout
        fields = {"function_name": context.function_name, "function_version": context.function_version,
                  "invoked_function_arn": context.invoked_function_arn, "aws_request_id": context.aws_request_id,
                  "memory_limit_in_mb": context.memory_limit_in_mb, "log_group_name": context.log_group_name,
                  "log_stream_name": env.variables["AWS_LAMBDA_LOG_STREAM_NAME"],
                  "client_context": context.client_context, "remaining_ms": int(remaining * 1000)}
        if not env.send({"event": event, "context": fields}):
            return self._end(env, await self._exited(env, context, init_ms))
        try:
            reply = await asyncio.wait_for(env.read(), remaining)
        except TimeoutError:
            return self._end(env, HandlerResult(timed_out=True, init_ms=init_ms))
        if reply is None:
            return self._end(env, await self._exited(env, context, init_ms))
        memory_mb = round(reply.get("max_rss_kb", 0) / 1024)
        logs = reply.get("logs", "")
        if memory_mb > context.memory_limit_in_mb:
            return self._end(env, HandlerResult(
                error_type="Runtime.OutOfMemory", logs=logs, init_ms=init_ms, memory_used_mb=memory_mb,
                error_message=f"RequestId: {context.aws_request_id} Error: Runtime exited with error: signal: killed"))
        error = reply.get("error")
        if reply.get("exit") and error is not None:  # it ran out of memory: the environment ends with its answer
            return self._end(env, HandlerResult(error_type=error["errorType"], error_message=error["errorMessage"],
                                                logs=logs, init_ms=init_ms, memory_used_mb=memory_mb,
                                                trace_field=self.trace_field))
        result = HandlerResult(value=reply.get("value"), logs=logs, init_ms=init_ms, memory_used_mb=memory_mb)
        if error is not None:
            result = HandlerResult(error_type=error["errorType"], error_message=error["errorMessage"],
                                   stack_trace=tuple(error["stackTrace"]), logs=logs, init_ms=init_ms,
                                   memory_used_mb=memory_mb, trace_field=self.trace_field)
        self.busy.discard(env)
        if env.provisioned:
            result.provisioned = True
            self._release_provisioned(env)
        elif len(self.idle) < self.max_idle:
            self.idle.append(env)
        else:
            env.kill()
        return result

    async def warm(self, variables: dict[str, str], idle: int = 1) -> int:
        """Environments initialised now and left idle, up to `idle` of them (what serving traffic leaves
        behind: the next invocations start warm); how many were added. One whose init fails is ended
        (the next invocation meets the failure as a cold start would)."""
        wanted = max(0, min(idle, self.max_idle) - len(self.idle))
        started = await asyncio.gather(*(self._initialised(variables) for _ in range(wanted)))
        ready = [env for env in started if env is not None]
        self.idle.extend(ready)
        return len(ready)

    async def _initialised(self, variables: dict[str, str]) -> _Environment | None:
        env = await _Environment.start(runtime_command(self.code, variables), variables)
        try:
            ready = await asyncio.wait_for(env.read(), INIT_LIMIT_S)
        except TimeoutError:
            ready = None
        except asyncio.CancelledError:  # the emulator closes while it initialises: no process left behind
            env.kill()
            raise
        if ready is None or "init_error" in ready:
            env.kill()
            return None
        return env

    def _idle_environment(self) -> _Environment | None:
        """A live idle environment for a warm start, or None."""
        return _first_alive(self.idle)[0]

    def _end(self, env: _Environment, result: HandlerResult) -> HandlerResult:
        """An environment Lambda would not reuse: ended, and its result passed on (a provisioned one
        is replaced, as Lambda keeps its provisioned concurrency)."""
        env.kill()
        self.busy.discard(env)
        if env.provisioned:
            result.provisioned = True
            self.provisioned_live -= 1
            self.provision(self.provisioned_target, self._provisioned_variables)
        return result

    async def _exited(self, env: _Environment, context: LambdaContext, init_ms: float | None) -> HandlerResult:
        code = await env.exit_code()
        await asyncio.sleep(0)  # let the drain take the last of stderr
        return HandlerResult(error_type="Runtime.ExitError", init_ms=init_ms, logs="\n".join(env.stderr),
                             error_message=f"RequestId: {context.aws_request_id} Error: Runtime exited "
                                           f"with error: {exit_words(code)}")

    def close(self) -> list[int]:
        """End every environment; returns their processes' ids (killed, perhaps not yet gone)."""
        for task in self._provisioning:
            task.cancel()
        ended = [*self.idle, *self.busy, *self.provisioned_idle]
        for env in ended:
            env.kill()
        self.idle.clear()
        self.busy.clear()
        self.provisioned_idle.clear()
        self.provisioned_target = self.provisioned_live = 0
        return [env.process.pid for env in ended]


def wait_ended(pids: list[int], timeout_s: float = 2.0) -> list[int]:
    """Wait until each of the killed processes has exited, without reaping it (that stays its
    watcher's), at most `timeout_s`: an emulator that stops leaves none still dying when its loop
    closes, for the garbage collector to find running. Returns those still running then."""
    deadline = time.monotonic() + timeout_s
    running = list(pids)
    while running:
        still = []
        for pid in running:
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                    still.append(pid)
            except ChildProcessError:  # reaped already
                pass
        running = still
        if not running or time.monotonic() >= deadline:
            break
        time.sleep(0.002)
    return running


def _first_alive(pool: list[_Environment]) -> tuple[_Environment | None, int]:
    """The most recently pooled environment still alive, and how many were found ended: one that died
    while idle (killed, or ended after running out of memory) is dropped, never handed an invocation
    it cannot answer."""
    ended = 0
    while pool:
        env = pool.pop()
        if env.alive():
            return env, ended
        env.kill()
        ended += 1
    return None, ended


NODE_HEAP_SHARE = 0.9  # of the function's memory, for V8's old generation (the rest: code, stacks, buffers)


def runtime_command(code: CodeSpec, variables: dict[str, str]) -> list[str]:
    """The process an execution environment of this code runs."""
    if code.node:
        node = node_binary()
        if node is None:
            raise RuntimeError("no node on this machine: Node.js functions get a stand-in (CodeSpec.runs_here)")
        memory_mb = int(variables.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0) or 0)
        heap = [f"--max-old-space-size={max(16, int(memory_mb * NODE_HEAP_SHARE))}"] if memory_mb else []
        return [node, *heap, BOOTSTRAP_JS]
    return [sys.executable, "-I", BOOTSTRAP]


def lambda_environment(code: CodeSpec, *, function: str, version: str, memory_mb: int, region: str,
                       endpoint_url: str | None) -> dict[str, str]:
    """An execution environment's variables: the function's own, then Lambda's reserved ones (which
    a function's variables cannot override), with the AWS endpoint pointing back at the emulator."""
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{secrets.token_hex(16)}"
    reserved = {
        "LAMBDA_TASK_ROOT": os.path.abspath(code.dependencies if code.node and code.dependencies else code.path),
        "LAMBDA_RUNTIME_DIR": os.path.dirname(BOOTSTRAP),
        "_HANDLER": code.handler, "AWS_EXECUTION_ENV": f"AWS_Lambda_{code.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region, "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream, "AWS_ACCESS_KEY_ID": "shiftsim",
        "AWS_SECRET_ACCESS_KEY": "shiftsim", "AWS_SESSION_TOKEN": "shiftsim",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "en_US.UTF-8", "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
    }
    if endpoint_url:
        reserved["AWS_ENDPOINT_URL"] = endpoint_url
    if code.dependencies and not code.node:  # what `sam build` would have put beside the code: imported after it
        reserved["SHIFTSIM_DEPENDENCIES"] = code.dependencies
    if code.layers and not code.node:  # /opt's Python folders, after the code's own
        reserved["SHIFTSIM_LAYERS"] = os.pathsep.join(code.layers)
    if code.node:
        reserved.pop("PYTHONUNBUFFERED")
        if code.layers:  # as Lambda's NODE_PATH names /opt/nodejs's folders
            reserved["NODE_PATH"] = os.pathsep.join(code.layers)
    return {**code.environment, **reserved}
