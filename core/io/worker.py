"""The decoding worker: a separate process that turns untrusted bytes into pixels under limits.

Run as ``python -m core.io.worker`` by :mod:`core.io.sandbox`, never by hand. It imports the readers,
caps its own address space at its baseline plus :data:`~core.io.limits.DECODE_MEMORY_BYTES`
(``resource.setrlimit``), then answers requests on stdin/stdout until stdin closes. Its stderr and
stdout go nowhere (libraries may print file content, DICOM identifiers included); replies travel on
a private copy of stdout. Messages are a JSON header plus raw bytes, never pickles: the parent must
not execute anything a compromised decoder could write.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import warnings
from typing import IO, Any

_FRAME = struct.Struct(">IQ")  # header length, payload length
#: Largest JSON header either side accepts (PNG text chunks are capped well below it).
MAX_HEADER_BYTES = 4 * 1024 * 1024


def write_message(stream: IO[bytes], header: dict[str, Any], payload: bytes | memoryview = b"") -> None:
    """Send one framed message: JSON header, then raw payload bytes."""
    encoded = json.dumps(header, default=str).encode("utf-8")
    stream.write(_FRAME.pack(len(encoded), len(payload)))
    stream.write(encoded)
    stream.write(payload)
    stream.flush()


def read_message(stream: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    """Read one framed message; None at end of stream."""
    frame = stream.read(_FRAME.size)
    if len(frame) < _FRAME.size:
        return None
    header_size, payload_size = _FRAME.unpack(frame)
    if header_size > MAX_HEADER_BYTES:
        return None
    header = json.loads(stream.read(header_size))
    return header, stream.read(payload_size)


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None  # not Linux: the parent's wall-time limit still holds


def _limit_memory(extra_bytes: int) -> tuple[int | None, int | None]:
    """Cap the address space at what the imports took plus ``extra_bytes``; return (baseline, cap)."""
    baseline = _address_space()
    try:
        import resource
    except ImportError:
        return baseline, None
    if baseline is None:
        return None, None
    cap = baseline + extra_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return baseline, cap


def _private_stdout() -> IO[bytes]:
    # Keep fd 1 for the replies only: anything a library prints goes to /dev/null instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.dup2(devnull, sys.stderr.fileno())
    return replies


def _answer(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    from core.io.base import InvalidImageError
    from core.io.decode import decode_bytes, memory_message
    from core.io.messages import file_label

    name = str(header.get("name", ""))
    try:
        decoded = decode_bytes(data, name, max_pixels=int(header["max_pixels"]), min_side=int(header["min_side"]))
    except InvalidImageError as exc:
        return {"ok": False, "message": str(exc), "retire": False}, b""
    except MemoryError:  # raised outside the readers' own net, e.g. while checking the contract
        return {"ok": False, "message": memory_message(file_label(name)), "retire": True}, b""
    pixels = decoded.pixels
    reply = {"ok": True, "format": decoded.format, "metadata": decoded.metadata, "shape": list(pixels.shape)}
    return reply, memoryview(pixels).cast("B")


def main() -> None:
    """Serve decoding requests until the parent closes stdin."""
    warnings.simplefilter("ignore")
    replies = _private_stdout()
    requests = sys.stdin.buffer
    from core.io import decode  # noqa: F401  (import every reader before measuring the baseline)
    from core.io.limits import DECODE_MEMORY_BYTES

    # An operator (or a test) may lower the cap; the default is the documented 1 GB.
    baseline, cap = _limit_memory(int(os.environ.get("MEDIMG_DECODE_MEMORY_BYTES", DECODE_MEMORY_BYTES)))
    write_message(replies, {"ready": True, "baseline": baseline, "memory_cap": cap, "pid": os.getpid()})
    while (message := read_message(requests)) is not None:
        try:
            reply, payload = _answer(*message)
        except MemoryError:
            reply, payload = {"ok": False, "message": "", "retire": True, "memory": True}, b""
        write_message(replies, reply, payload)
        if reply.get("retire"):
            break  # after a MemoryError the heap may be fragmented; the parent starts a fresh worker


if __name__ == "__main__":
    main()
