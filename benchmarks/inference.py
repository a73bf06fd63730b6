"""Inference speed of every served model, in one run.

For each model: the bare forward pass on an already-preprocessed tensor, the full
``core.inference`` path per image (preprocess + calibrated predict + OOD score, median of
``--repeats`` runs), and batch throughput at batch 32. Prints a Markdown table.

    python -m benchmarks.inference [--repeats 50] [--task TASK]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from core import inference
from core.phantoms import make_image
from core.tasks import TASKS


def _time(fn, repeats: int) -> list[float]:
    fn()  # first call traces/compiles; not what a clinician waits for on later uploads
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def bench_model(served: inference.ServedModel, repeats: int, batch: int = 32) -> dict:
    """Time one served model; returns milliseconds and images per second."""
    rng = np.random.default_rng(0)
    images = [make_image(served.task.id, c, rng).image for c in served.task.classes]
    image = images[0]
    tensor = served.prepare(image).image[None].astype("float32")
    # The served model's compiled forward pass (fixed-signature tf.function), no preprocessing.
    forward = _time(lambda: served.logits_and_features(tensor), repeats)
    full = _time(lambda: served.predict(image), repeats)
    many = [images[i % len(images)] for i in range(batch)]
    batch_times = _time(lambda: served.predict_batch(many), max(3, repeats // 10))
    return {
        "task": served.task.id,
        "model": served.name,
        "forward_ms": 1000 * statistics.median(forward),
        "predict_ms": 1000 * statistics.median(full),
        "batch32_img_per_s": batch / statistics.median(batch_times),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--task", choices=sorted(TASKS), default=None)
    args = parser.parse_args(argv)
    rows = []
    for card in inference.list_models(args.task):
        served = inference.load_model(card["task_id"], card["name"])
        rows.append(bench_model(served, args.repeats))
    print("| task | model | forward ms (median) | preprocess+predict ms (median) | batch-32 images/s |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['task']} | {r['model']} | {r['forward_ms']:.1f} | {r['predict_ms']:.1f} "
              f"| {r['batch32_img_per_s']:.0f} |")
    return rows


if __name__ == "__main__":
    main()
