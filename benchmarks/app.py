"""What a clinician waits for in the app, per served model.

- cold start: a fresh Python process imports the app and renders the first page with the
  task's model loaded (Streamlit's AppTest runs the real scripts, no browser);
- upload -> result: decode the uploaded bytes, preprocess, calibrated predict, OOD score;
- Grad-CAM, Grad-CAM++ and ScoreCAM time against that predict time.
Medians over ``--repeats`` warm runs; printed as a Markdown table.

    python -m benchmarks.app [--repeats 10]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from core import explain, inference
from core.io import read_image
from core.phantoms import make_image

_COLD_START = """
import sys, time
start = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=600)
at.session_state["task_id"] = sys.argv[1]
at.run()
assert not at.exception, at.exception
print(time.perf_counter() - start)
"""


def cold_start_s(task_id: str) -> float:
    """Seconds from interpreter start to the first page rendered with the model loaded."""
    begin = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _COLD_START, task_id], capture_output=True, text=True, check=True)
    float(out.stdout.strip().splitlines()[-1])  # the app ran without an exception
    return time.perf_counter() - begin


def _median_ms(fn, repeats: int) -> float:
    fn()  # first call traces the graph; clinicians wait for it once per process
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench(card: dict, repeats: int) -> dict:
    """Timings of one served model."""
    served = inference.load_model(card["task_id"], card["name"])
    image = make_image(served.task.id, served.task.classes[0], np.random.default_rng(0)).image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    upload = buffer.getvalue()
    row = {
        "task": served.task.id, "model": served.name,
        "cold_start_s": cold_start_s(served.task.id),
        "upload_to_result_ms": _median_ms(lambda: served.predict(read_image(upload).pixels), repeats),
    }
    for method in explain.CAM_METHODS:
        row[f"{method}_ms"] = _median_ms(lambda m=method: explain.heatmap(served, image, method=m), repeats)
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    rows = [bench(card, args.repeats) for card in inference.list_models()]
    cams = list(explain.CAM_METHODS)
    print("| task | model | cold start s | upload -> result ms | " + " | ".join(f"{m} ms (x predict)" for m in cams) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(cams))
    for r in rows:
        cells = [f"{r[f'{m}_ms']:.0f} ({r[f'{m}_ms'] / r['upload_to_result_ms']:.1f}x)" for m in cams]
        print(f"| {r['task']} | {r['model']} | {r['cold_start_s']:.1f} | {r['upload_to_result_ms']:.1f} | "
              + " | ".join(cells) + " |")
    return rows


if __name__ == "__main__":
    main()
