"""What bounded decoding costs on a normal upload: ``python -m benchmarks.isolation [--repeats 30] [FILE ...]``.

Reads each file (by default, one typical upload per modality, generated here) with
``core.io.read_image`` in process (``isolate=False``) and through the bounded worker (the default),
and prints the median time of each and the difference, plus the one-off start of a worker.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from benchmarks.fuzz_cases import dicom_elements, dicom_file
from core.io import read_image, sandbox


def _encoded(array: np.ndarray, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **params)
    return buffer.getvalue()


def _texture(height: int, width: int, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = 128 + 60 * np.sin(x / 17.0) * np.cos(y / 23.0)
    noisy = base[..., None] + rng.normal(0, 12, (height, width, channels))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def typical_uploads() -> dict[str, bytes]:
    """One upload of the size each modality usually has."""
    mri = _texture(512, 512)
    ct = (_texture(512, 512, 1)[..., 0].astype(np.uint16) * 16)
    return {
        "brain MRI JPEG 512x512": _encoded(mri, "JPEG", quality=90),
        "ultrasound PNG 600x500": _encoded(_texture(500, 600, 1)[..., 0], "PNG"),
        "blood smear BMP 450x450": _encoded(_texture(450, 450), "BMP"),
        "DICOM 16-bit 512x512": dicom_file(dicom_elements(ct)),
        "large PNG 2048x2048": _encoded(_texture(2048, 2048), "PNG"),
    }


def _timed(read: Callable[[], object]) -> float:
    started = time.perf_counter()
    read()
    return time.perf_counter() - started


def measure(uploads: dict[str, bytes], repeats: int) -> list[tuple[str, float, float]]:
    """(name, in-process ms, bounded ms) per upload: medians of ``repeats`` warm reads, alternated
    so that a busy machine slows both alike."""
    rows = []
    for name, data in uploads.items():
        read_image(data)  # warm the worker and the caches
        pairs = [(_timed(lambda d=data: read_image(d, isolate=False)), _timed(lambda d=data: read_image(d)))
                 for _ in range(repeats)]
        local, bounded = (1000 * statistics.median(column) for column in zip(*pairs))
        rows.append((name, local, bounded))
    return rows


def cold_start_ms(data: bytes) -> float:
    """Time of a read that has to start a fresh worker first."""
    sandbox.shutdown()
    started = time.perf_counter()
    read_image(data)
    return 1000 * (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    """Print the cost table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="uploads to time instead of the generated ones")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    uploads = {path.name: path.read_bytes() for path in args.files} or typical_uploads()
    rows = measure(uploads, args.repeats)
    print("| upload | bytes | in process (ms) | bounded worker (ms) | cost of isolation (ms) |")
    print("|---|---|---|---|---|")
    for name, local, bounded in rows:
        print(f"| {name} | {len(uploads[name]):,} | {local:.1f} | {bounded:.1f} | {bounded - local:+.1f} |")
    start_ms = cold_start_ms(next(iter(uploads.values())))
    print(f"\nstarting a worker (once per server process, and after each overrun): {start_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
