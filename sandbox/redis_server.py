"""A real redis-server of one's own, for the tests and the benchmarks: on a free loopback port, in a directory of its
own, stopped and started again on the same port and directory (a restart, or an outage), with or without the
append-only file. The bot itself never starts Redis: in local mode it uses its in-process stand-in."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from sandbox.ports import free_port

INSTALL_HINT = "install it (apt-get install redis-server, or scripts/install-test-deps) or set REDIS_URL"


class RedisServerError(RuntimeError):
    """redis-server is missing or did not come up; the message says what to do."""


class RedisServer:
    """`redis-server` as a child process. `appendonly`: every write is fsynced to the append-only file, so what
    was written survives a stop and start (a restart); otherwise nothing is persisted (an outage loses it all)."""

    def __init__(self, *, appendonly: bool = False, workdir: Path | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisServerError(f"redis-server is not installed: {INSTALL_HINT}")
        self._executable = executable
        self.port = free_port()
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="riposte-redis-"))
        always = ["--appendonly", "yes", "--appendfsync", "always"]
        self._persistence = always if appendonly else ["--appendonly", "no"]
        self._process: subprocess.Popen[bytes] | None = None
        self._has_run = False  # has run once: keep the port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self, seconds: float = 10.0) -> RedisServer:
        """Start it, and return once it answers PING (with the append-only file, once that is loaded). A port
        taken meanwhile by another process (parallel test workers draw from the same ports) is traded for
        another, once or twice; a restart keeps its port, or it would not be a restart."""
        for _ in range(3):
            if self._start(seconds):
                return self
            if self._has_run:
                break
            self.port = free_port()
        raise RedisServerError(f"redis-server did not answer on port {self.port} within {seconds:.0f} s")

    def _start(self, seconds: float) -> bool:
        self._process = subprocess.Popen(  # noqa: S603 (our own arguments)
            [self._executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *self._persistence,
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                try:
                    # Ours, not another server that had the port first (ours then exits, unable to bind).
                    if client.info("server")["process_id"] == self._process.pid:
                        self._has_run = True  # from now on this port is this server's
                        return True
                except (redis.ConnectionError, redis.exceptions.BusyLoadingError):
                    pass  # not listening yet, or still replaying the append-only file
                if self._process.poll() is not None:  # exited: the port was taken
                    break
                time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        return False

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (the append-only file flushed); the port and directory stay this server's."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def close(self) -> None:
        """Stop it and remove its directory (when it made that directory itself)."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start() if not self.running else self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
