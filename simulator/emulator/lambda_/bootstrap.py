"""The Python runtime of one execution environment: run as its own process (by path, importing
nothing of shiftsim), it imports the user's handler from the task root (the init phase), then runs
one invocation at a time, as Lambda's runtime does.

Frames on its pipes (4-byte length, then JSON). Parent to child: `{"event", "context"}`. Child to
parent: first `{"ready": true}` or `{"init_error": {...}}`, then per invocation `{"value"}` or
`{"error"}`, with `"logs"` (what the handler printed or logged) and `"max_rss_kb"`. The protocol
writes on a copy of fd 1; fd 1 itself then goes to stderr, so nothing the user's code writes can
corrupt a frame.
"""

import ctypes
import importlib
import inspect
import io
import json
import logging
import os
import resource
import signal
import struct
import sys
import time
import traceback

_HEADER = struct.Struct(">I")
_THIS = os.path.abspath(__file__)


def _die_with_parent():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _read_frame(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    return json.loads(stream.read(_HEADER.unpack(head)[0]))


def _write_frame(stream, message):
    body = json.dumps(message).encode()
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _user_frames(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) != _THIS]
    return [line.rstrip("\n") for line in traceback.format_list(frames[-10:])]


def _error(error_type, message, trace=()):
    return {"errorType": error_type, "errorMessage": message, "stackTrace": list(trace)}


class Context:
    """The Python runtime's context object."""

    def __init__(self, fields, deadline):
        self.function_name = fields["function_name"]
        self.function_version = fields["function_version"]
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.memory_limit_in_mb = fields["memory_limit_in_mb"]
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = fields["log_group_name"]
        self.log_stream_name = fields["log_stream_name"]
        self.client_context = fields.get("client_context")
        self.identity = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _RequestFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


def _lambda_logging(stream_of):
    """The root logger's handler as Lambda's Python runtime installs it: `[LEVEL]\\ttime\\trequest id\\tmessage`."""
    handler = logging.StreamHandler(stream_of)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    request = _RequestFilter()
    handler.addFilter(request)
    logging.getLogger().addHandler(handler)
    return handler, request


class _Capture(io.TextIOBase):
    """sys.stdout/sys.stderr and the log handler of one invocation, in one buffer."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def take(self):
        text, self.parts = "".join(self.parts), []
        return text


def _inside(path, root):
    try:
        return os.path.commonpath([os.path.realpath(path), root]) == root
    except (TypeError, ValueError):
        return False


def _own_file(obj):
    """The file that defines a callable (a function, a class, an instance of a class), or None
    for one of C (a builtin has no file of its own)."""
    for candidate in (obj, type(obj)):
        try:
            return inspect.getfile(inspect.unwrap(candidate))
        except (TypeError, ValueError):
            continue
    return None


def _init(handler_spec, task_root):
    """The handler the function's configuration names, from the function's own code only: a module
    of the task root and a callable defined there. A handler naming a callable of the standard
    library or an installed package (`pty.spawn`, `os.system`) is not the function's code, and a
    request that sets it must not make it run."""
    module_name, _, function_name = handler_spec.rpartition(".")
    root = os.path.realpath(task_root)
    relative = module_name.replace(".", "/").replace("/", os.sep)
    candidates = (os.path.join(root, relative + ".py"), os.path.join(root, relative, "__init__.py"))
    if not module_name or not any(_inside(c, root) and os.path.isfile(c) for c in candidates):
        return None, _error("Runtime.ImportModuleError",
                            f"Unable to import module '{module_name}': No module named '{module_name}'")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:  # the user's import failing is the user's error, reported as Lambda does
        return None, _error("Runtime.ImportModuleError",
                            f"Unable to import module '{module_name}': {exc}", _user_frames(exc))
    handler = getattr(module, function_name, None)
    own = callable(handler) and _inside(getattr(module, "__file__", None) or "", root)
    if own:
        defined_in = _own_file(handler)
        own = defined_in is not None and _inside(defined_in, root)
    if not own:
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler, None


HEADROOM_MB = 1024  # address space beyond the function's memory: the interpreter's own mappings


def _limit_memory():
    """The function's memory as a bound on what the process can map: a handler that asks for more
    gets a MemoryError, which ends the environment as Lambda's limit would, never the machine's memory."""
    memory_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 0)
    if memory_mb > 0:
        limit = (memory_mb + HEADROOM_MB) * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass


def _invoke(handler, event, context, capture):
    try:
        value = handler(event, context)
    except MemoryError:
        reply = {"error": _error("Runtime.OutOfMemory", f"RequestId: {context.aws_request_id} Error: Runtime "
                                 "exited with error: signal: killed"), "exit": True}
    except Exception as exc:
        reply = {"error": _error(type(exc).__name__, str(exc), _user_frames(exc))}
    else:
        try:
            reply = {"value": json.loads(json.dumps(value))}
        except (TypeError, ValueError) as exc:
            reply = {"error": _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")}
    finally:
        sys.stdout = sys.stderr = capture  # a handler that replaced them writes to ours again
    reply["logs"] = capture.take()
    reply["max_rss_kb"] = _peak_rss_kb()
    return reply


def _peak_rss_kb():
    """This process's peak resident memory since its exec (VmHWM; getrusage's ru_maxrss would count
    the parent's memory before the exec too)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    _die_with_parent()
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    task_root, handler_spec = os.environ["LAMBDA_TASK_ROOT"], os.environ["_HANDLER"]
    sys.path.insert(0, task_root)  # started with -I: the task root is the only folder of its own
    if os.environ.get("SHIFTSIM_DEPENDENCIES"):  # its requirements.txt, installed as sam build does
        sys.path.insert(1, os.environ["SHIFTSIM_DEPENDENCIES"])
    after_code = 2 if os.environ.get("SHIFTSIM_DEPENDENCIES") else 1
    sys.path[after_code:after_code] = [p for p in os.environ.get("SHIFTSIM_LAYERS", "").split(os.pathsep) if p]
    os.chdir(task_root)
    capture = _Capture()
    log_handler, request_filter = _lambda_logging(capture)
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = capture
    _limit_memory()
    handler, init_error = _init(handler_spec, task_root)
    if init_error is not None:
        _write_frame(channel, {"init_error": init_error, "logs": capture.take()})
        return
    _write_frame(channel, {"ready": True, "logs": capture.take()})
    while True:
        message = _read_frame(requests)
        if message is None:
            break
        fields = message["context"]
        request_filter.request_id = fields["aws_request_id"]
        context = Context(fields, time.monotonic() + fields["remaining_ms"] / 1000.0)
        reply = _invoke(handler, message["event"], context, capture)
        _write_frame(channel, reply)
        if reply.get("exit"):  # Lambda ends an environment that ran out of memory
            os._exit(137)
    log_handler.close()
    sys.stdout, sys.stderr = real_out, real_err


if __name__ == "__main__":
    main()
