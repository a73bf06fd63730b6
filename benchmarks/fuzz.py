"""Seeded fuzz of the upload path: ``python -m benchmarks.fuzz --cases 50000 --seed 1``.

Every input (``benchmarks.fuzz_cases``) goes through ``core.io.read_image`` exactly as an upload does
(bounded worker, file-like object with a name). Each outcome must be an ``(H, W, 3)`` uint8 image
within the limits, or an ``InvalidImageError`` whose message is one printable line of at most 300
characters with no library text and no identifier. Prints counts per outcome and per format and
exits 1 on any crash, hang, memory overrun, broken contract, bad message or leaked identifier.
"""

from __future__ import annotations

import argparse
import collections
import io
import re
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks.fuzz_cases import HOSTILE, IDENTIFIER_FRAGMENTS, Case, add_bases, case
from core.io import MAX_PIXELS, MESSAGE_CHARS, MIN_SIDE, InvalidImageError, read_image
from core.io.messages import printable
from core.io.sandbox import STATS

#: Outcomes that fail the run.
FAILURES: frozenset[str] = frozenset({"crash", "hang", "bad-array", "bad-message", "leak", "memory-overrun"})
#: Text that betrays raw library output in a message.
_LIBRARY_TEXT = re.compile(
    r"Details:|pydicom|Traceback|Errno|(?<![A-Za-z])b['\"]|\\x[0-9a-f]{2}|config\.|Exception|Error\b"
)
# A call may also start a fresh worker (after an overrun), which takes seconds on a busy machine;
# a call that outlives the decode limit by more than this never returned by design: a hang.
_HANG_MARGIN_S = 30.0
_PARENT_MEMORY_BYTES = 1024**3


_WARM_UP = b"\x89PNG\r\n\x1a\n"  # refused at once; enough to start a worker


def _warm_up(_: int) -> None:
    try:
        read_image(_WARM_UP)
    except Exception:  # noqa: BLE001  (only starts a worker; any real failure shows again in the cases)
        pass


class Outcome(NamedTuple):
    """What one input gave."""

    index: int
    fmt: str
    mutation: str
    kind: str
    detail: str
    seconds: float


def _message_problem(message: str) -> str | None:
    if len(message) > MESSAGE_CHARS or printable(message) != message or not message:
        return "bad-message"
    if _LIBRARY_TEXT.search(message):
        return "bad-message"
    if any(fragment in message for fragment in IDENTIFIER_FRAGMENTS):
        return "leak"
    return None


def classify(loaded: object, error: BaseException | None) -> tuple[str, str]:
    """Name an outcome: ok, refused, refused-timeout, refused-memory, or one of :data:`FAILURES`."""
    if error is None:
        pixels = getattr(loaded, "pixels", None)
        good = (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.ndim == 3
                and pixels.shape[2] == 3 and min(pixels.shape[:2]) >= MIN_SIDE
                and pixels.shape[0] * pixels.shape[1] <= MAX_PIXELS)
        if not good:
            return "bad-array", repr(getattr(pixels, "shape", None))
        if any(fragment in repr(loaded.metadata) for fragment in IDENTIFIER_FRAGMENTS):
            return "leak", "metadata"
        return "ok", ""
    if not isinstance(error, InvalidImageError):
        return "crash", f"{type(error).__name__}"
    message = str(error)
    problem = _message_problem(message)
    if problem:
        return problem, message[:400]
    if "too long to decode" in message:
        return "refused-timeout", ""
    if "too much memory" in message:
        return "refused-memory", ""
    return "refused", ""


def run_case(index: int, seed: int, timeout_s: float) -> Outcome:
    """Build input ``index`` of run ``seed`` and read it as an upload."""
    item: Case = case(seed, index)
    upload = io.BytesIO(item.data)
    upload.name = item.name
    started = time.perf_counter()
    loaded, error = None, None
    try:
        loaded = read_image(upload, timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001  (anything but InvalidImageError is what we hunt)
        error = exc
    seconds = time.perf_counter() - started
    kind, detail = classify(loaded, error)
    if seconds > timeout_s + _HANG_MARGIN_S:
        kind, detail = "hang", f"{seconds:.1f} s"
    return Outcome(index, item.fmt, item.mutation, kind, detail, seconds)


def run(cases: int, seed: int = 0, *, threads: int = 2, timeout_s: float = 10.0) -> list[Outcome]:
    """Run ``cases`` inputs (the hand-made hostile ones first) on ``threads`` threads; return every outcome."""
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(_warm_up, range(threads)))  # start the workers outside the clock
        outcomes = list(pool.map(lambda i: run_case(i, seed, timeout_s), range(cases), chunksize=16))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    if grown > _PARENT_MEMORY_BYTES:
        outcomes.append(Outcome(-1, "-", "-", "memory-overrun", f"parent grew {grown / 1e9:.2f} GB", 0.0))
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    """Counts per outcome (columns) and format (rows), as Markdown."""
    kinds = sorted({o.kind for o in outcomes}, key=lambda k: (k in FAILURES, k))
    counts = collections.Counter((o.fmt, o.kind) for o in outcomes)
    formats = sorted({o.fmt for o in outcomes})
    lines = ["| format | " + " | ".join(kinds) + " | total |", "|---" * (len(kinds) + 2) + "|"]
    for fmt in [*formats, "all"]:
        row = [sum(counts[(f, k)] for f in formats) if fmt == "all" else counts[(fmt, k)] for k in kinds]
        lines.append(f"| {fmt} | " + " | ".join(str(v) for v in row) + f" | {sum(row)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run, print the table and the failures; 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="number of inputs (hostile ones included)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations")
    parser.add_argument("--threads", type=int, default=2, help="uploads decoded at once")
    parser.add_argument("--timeout-s", type=float, default=10.0, help="decode time limit per file")
    parser.add_argument("--bases", type=Path, help="a folder of real images to mutate as well (e.g. a dataset)")
    parser.add_argument("--base-count", type=int, default=40, help="how many files of --bases to use")
    args = parser.parse_args(argv)
    if args.bases:
        print(f"added {add_bases(args.bases, args.base_count, args.seed)} base files from the folder given")
    started = time.perf_counter()
    outcomes = run(args.cases, args.seed, threads=args.threads, timeout_s=args.timeout_s)
    elapsed = time.perf_counter() - started
    failures = [o for o in outcomes if o.kind in FAILURES]
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"fuzz: {args.cases} cases, seed {args.seed}, {len(HOSTILE)} hand-made hostile, "
          f"{elapsed:.1f} s ({args.cases / elapsed:.0f} cases/s), slowest {slowest.seconds:.2f} s ({slowest.mutation})")
    print(f"decoding workers started: {STATS['started']}, "
          f"replaced after an overrun or a retirement: {STATS['replaced']}")
    print(table(outcomes))
    for outcome in failures[:20]:
        print(f"FAIL {outcome.kind} case {outcome.index} {outcome.fmt} {outcome.mutation}: {outcome.detail}")
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
