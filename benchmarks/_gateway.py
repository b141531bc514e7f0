"""The SMS package's fake 46elks gateway, run in a process of its own so that only the sender's CPU is measured.

The gateway stamps every request it routes with ``time.monotonic_ns()`` (``CLOCK_MONOTONIC``, which every
process on the machine shares), so a sender can compare its own stamps with the gateway's.

    with GatewayProcess() as gateway:
        table = gateway.provider_table     # a [[channels.sms.providers]] table for 46elks
        ...
        stats = gateway.stats()            # requests, messages, stamps, the gateway's own CPU seconds
        gateway.reset()
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypedDict

from hothat_sms.testing import FakeGateway, GatewayRequest, GatewayResponse

__all__ = ["GatewayProcess", "GatewayStats"]

_START_TIMEOUT = 30.0
_CALL_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


class GatewayStats(TypedDict):
    """What the gateway process saw since its last reset."""

    requests: int
    messages: int
    stamps: list[int]
    """``time.monotonic_ns()`` when each request reached its route, in arrival order."""
    cpu: float
    """The gateway process's CPU seconds (all threads) since the last reset."""
    fields: list[dict[str, str]]
    """The form fields of the first few messages (to check what senders sent)."""


class _TimedGateway(FakeGateway):
    def __init__(self, max_messages: int) -> None:
        super().__init__(max_messages=max_messages)
        self.stamps: list[int] = []
        self.cpu_mark = time.process_time()

    def _handle(self, request: GatewayRequest) -> GatewayResponse | None:
        stamp = time.monotonic_ns()
        with self._lock:
            self.stamps.append(stamp)
        return super()._handle(request)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self.stamps.clear()
            self.requests = 0
            self.cpu_mark = time.process_time()

    def stats(self) -> GatewayStats:
        with self._lock:
            messages = list(self._messages)
            return GatewayStats(
                requests=self.requests,
                messages=len(messages),
                stamps=list(self.stamps),
                cpu=time.process_time() - self.cpu_mark,
                fields=[{str(k): str(v) for k, v in m.fields.items()} for m in messages[:3]],
            )


def serve(max_messages: int) -> None:
    """The child's side: start the gateway, print its URL and 46elks table, then answer commands (JSON lines)."""
    with _TimedGateway(max_messages) as gateway:
        _answer({"url": gateway.url, "table": gateway.provider_table("46elks")})
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                gateway.reset()
                _answer(None)
            elif command == "stats":
                _answer(gateway.stats())
            else:  # "stop", or anything unknown
                _answer(None)
                return


def _answer(data: object) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


class GatewayProcess:
    """A :class:`~hothat_sms.testing.FakeGateway` on 127.0.0.1 in a child process (a context manager).

    The child is ``python -m benchmarks._gateway``; it is stopped on exit, and killed if it does not stop.

    Args:
        max_messages: the gateway refuses (503) beyond this many messages between resets, bounding a run.
    """

    def __init__(self, max_messages: int = 100_000) -> None:
        self.max_messages = max_messages
        self.url = ""
        self.provider_table: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()

    def __enter__(self) -> GatewayProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._gateway", str(self.max_messages)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        # A reader thread, so that every wait for an answer can time out.
        threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True).start()
        try:
            first = self._receive(_START_TIMEOUT, "start")
        except BaseException:
            self._kill()
            raise
        self.url, self.provider_table = first["url"], first["table"]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(OSError, TimeoutError, ValueError):
                self._call("stop")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        self._kill()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")  # end of stream

    def _receive(self, timeout: float, command: str) -> Any:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the gateway process did not answer {command!r}") from None
        if not line:
            raise RuntimeError(f"the gateway process ended (at {command!r})")
        return json.loads(line)

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(timeout=5)
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
        self._process = None

    def _call(self, command: str) -> Any:
        if self._process is None or self._process.stdin is None:
            raise RuntimeError("the gateway process is not running: use it as a context manager")
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        return self._receive(_CALL_TIMEOUT, command)

    def reset(self) -> None:
        """Forget the messages, stamps and CPU counted so far."""
        self._call("reset")

    def stats(self) -> GatewayStats:
        """What the gateway saw since the last reset."""
        stats: GatewayStats = self._call("stats")
        return stats


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
