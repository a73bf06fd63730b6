"""Bounded decoding: untrusted bytes are decoded in worker processes that are killed when they overrun.

A damaged or hostile file may make a decoder loop forever, inflate gigabytes or crash in C code.
Instead of patching each parser, every upload is decoded by a worker process (:mod:`core.io.worker`)
whose address space is capped at its baseline plus :data:`~core.io.limits.DECODE_MEMORY_BYTES`, and
which is killed and replaced when a file takes longer than :data:`~core.io.limits.DECODE_SECONDS`.
Workers are started on first use, reused across files (start-up costs a fraction of a second, a
decode a few milliseconds of overhead) and shared by all threads, at most
``$MEDIMG_DECODE_WORKERS`` (default 2) at once.
"""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.io.base import Decoded, InvalidImageError
from core.io.decode import memory_message
from core.io.limits import DECODE_SECONDS, MAX_PIXELS
from core.io.messages import file_label
from core.io.worker import MAX_HEADER_BYTES, write_message

_FRAME = struct.Struct(">IQ")
_START_SECONDS = 120.0  # a cold start on a busy machine; the file's own clock starts after it
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class _Overrun(Exception):
    """The worker did not answer in time, died, or answered nonsense; it must be replaced."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why  # "time", "died" or "protocol"


#: Workers started and workers stopped for overrunning, since this process began (for benchmarks).
STATS: dict[str, int] = {"started": 0, "replaced": 0}


class _Worker:
    """One worker process and the pipes to it."""

    def __init__(self) -> None:
        STATS["started"] += 1
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PROJECT_ROOT, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "core.io.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd=_PROJECT_ROOT, close_fds=True,
        )
        try:
            self.hello = self._read(time.monotonic() + _START_SECONDS)[0]
        except _Overrun:
            self.kill()
            raise

    def decode(self, data: bytes, name: str, max_pixels: int, min_side: int, seconds: float) -> tuple[dict, bytearray]:
        deadline = time.monotonic() + seconds
        try:
            write_message(self.process.stdin, {"name": name, "max_pixels": max_pixels, "min_side": min_side}, data)
        except (BrokenPipeError, OSError, ValueError):
            raise _Overrun("died") from None
        return self._read(deadline)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def _read(self, deadline: float) -> tuple[dict[str, Any], bytearray]:
        header_size, payload_size = _FRAME.unpack(self._read_exactly(_FRAME.size, deadline))
        if header_size > MAX_HEADER_BYTES or payload_size > 3 * MAX_PIXELS:
            raise _Overrun("protocol")
        try:
            header = json.loads(bytes(self._read_exactly(header_size, deadline)))
        except ValueError:
            raise _Overrun("protocol") from None
        if not isinstance(header, dict):
            raise _Overrun("protocol")
        return header, self._read_exactly(payload_size, deadline)

    def _read_exactly(self, size: int, deadline: float) -> bytearray:
        fd = self.process.stdout.fileno()
        buffer = bytearray()
        while len(buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise _Overrun("time")
            chunk = os.read(fd, min(size - len(buffer), 1 << 20))
            if not chunk:
                raise _Overrun("died")
            buffer += chunk
        return buffer


class _Pool:
    """At most ``size`` workers, handed to one caller at a time."""

    def __init__(self, size: int) -> None:
        self.size, self.pid = max(1, size), os.getpid()
        self._idle: list[_Worker] = []
        self._running = 0
        self._ready = threading.Condition()

    def take(self) -> _Worker:
        with self._ready:
            while not self._idle and self._running >= self.size:
                self._ready.wait()
            if self._idle:
                return self._idle.pop()
            self._running += 1
        try:
            return _Worker()
        except BaseException:
            self.discard(None)
            raise

    def give_back(self, worker: _Worker) -> None:
        with self._ready:
            self._idle.append(worker)
            self._ready.notify()

    def discard(self, worker: _Worker | None) -> None:
        if worker is not None:
            STATS["replaced"] += 1
            worker.kill()
        with self._ready:
            self._running -= 1
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
            with self._ready:
                self._running -= 1


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _the_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():  # a forked child must not share its parent's pipes
            _pool = _Pool(int(os.environ.get("MEDIMG_DECODE_WORKERS", "2")))
        return _pool


def worker_limits() -> list[dict[str, Any]]:
    """What each idle worker reported at start: ``pid``, ``memory_cap`` (bytes of address space) and
    ``baseline`` (its address space after the imports); for tests and operators."""
    with _pool_lock:
        pool = _pool if _pool is not None and _pool.pid == os.getpid() else None
    if pool is None:
        return []
    with pool._ready:
        return [dict(worker.hello) for worker in pool._idle]


def shutdown() -> None:
    """Stop the idle workers (they also stop by themselves when this process exits)."""
    with _pool_lock:
        if _pool is not None and _pool.pid == os.getpid():
            _pool.close()


def _overrun_message(label: str, why: str, seconds: float) -> str:
    if why == "time":
        return (
            f"{label} took too long to decode (more than {seconds:g} seconds), so it was stopped; it may be "
            "damaged or crafted to stall the decoder. Export it again or choose another file."
        )
    if why == "died":
        return memory_message(label)
    return f"{label} could not be decoded safely; export or copy the image again."


def decode_isolated(
    data: bytes, name: str = "", *, max_pixels: int, min_side: int, seconds: float = DECODE_SECONDS
) -> Decoded:
    """Decode a file in a bounded worker process.

    Args:
        data: the file's bytes (already checked against the byte limit).
        name: the file's base name ('' if unknown).
        max_pixels: most pixels accepted (per frame).
        min_side: fewest pixels accepted on either side.
        seconds: wall time the worker may take over this file.

    Returns:
        As :func:`core.io.decode.decode_bytes`.

    Raises:
        InvalidImageError: the file is refused, or took too long or too much memory to decode.
    """
    pool = _the_pool()
    try:
        worker = pool.take()
    except (_Overrun, OSError):  # the server cannot start a decoder: not the file's fault, say so
        raise InvalidImageError(
            f"{file_label(name)} could not be decoded because the server could not start its image decoder; "
            "try again in a minute, and tell your administrator if this persists."
        ) from None
    try:
        header, payload = worker.decode(bytes(data), name, max_pixels, min_side, seconds)
    except _Overrun as overrun:
        pool.discard(worker)
        raise InvalidImageError(_overrun_message(file_label(name), overrun.why, seconds)) from None
    except BaseException:  # e.g. KeyboardInterrupt mid-reply: the pipe is out of step
        pool.discard(worker)
        raise
    if header.get("retire"):
        pool.discard(worker)
    else:
        pool.give_back(worker)
    return _decoded(header, payload, file_label(name))


def _decoded(header: dict[str, Any], payload: bytearray, label: str) -> Decoded:
    if not header.get("ok"):
        raise InvalidImageError(header.get("message") or memory_message(label))
    try:
        height, width, channels = (int(side) for side in header["shape"])
        pixels = np.frombuffer(payload, dtype=np.uint8).reshape(height, width, channels)
        metadata = dict(header["metadata"])
    except (KeyError, TypeError, ValueError):
        raise InvalidImageError(_overrun_message(label, "protocol", 0)) from None
    metadata = {key: tuple(value) if isinstance(value, list) else value for key, value in metadata.items()}
    return Decoded(pixels, str(header.get("format", "")), metadata)
