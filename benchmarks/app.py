"""What a clinician waits for in the app, measured in a real browser, then per served model.

- first visit: a fresh ``streamlit run app.py`` server (timed from when its health check answers); a
  headless Chromium opens the app; seconds until the uploader is on screen, and until the first result
  (verdict or refusal) of a sample uploaded the moment the uploader appears;
- per served model, warm: upload -> result (decode, preprocess, calibrated predict, OOD score) and each
  CAM method against that predict time (medians over ``--repeats``).

    python -m benchmarks.app [--repeats 10] [--visits 3] [--no-models]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ("calibrated probability", "Not classified:", "Not analysed")
TARGETS_S = {"uploader": 3.0, "result": 10.0}


@contextlib.contextmanager
def fresh_server(timeout_s: float = 120):
    """A new app server process on a free loopback port; yields its base URL once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", f"--server.port={port}",
                             "--server.address=127.0.0.1", "--server.headless=true"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + timeout_s
    try:
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).close()
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the app server did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def first_visit(sample: Path) -> dict[str, float]:
    """Seconds from opening a fresh server's first page to its uploader, and to the first result."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with fresh_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(base, wait_until="commit")
        uploader = page.locator('input[type="file"]').first
        uploader.wait_for(state="attached", timeout=120_000)
        shown = time.perf_counter() - start
        uploader.set_input_files(str(sample))
        answer = page.get_by_text(ANSWERS[0]).or_(page.get_by_text(ANSWERS[1])).or_(page.get_by_text(ANSWERS[2]))
        answer.first.wait_for(timeout=300_000)
        result = time.perf_counter() - start
        browser.close()
    return {"uploader": shown, "result": result}


def _median_ms(fn, repeats: int) -> float:
    fn()  # first call traces the graph; clinicians wait for it once per process
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench_model(card: dict, repeats: int) -> dict:
    """Warm timings of one served model."""
    import numpy as np

    from core import explain
    from core.io import read_image
    from core.phantoms import make_image
    from core.serving import load_model
    from core.ui import png_bytes

    served = load_model(card["task_id"], card["name"])
    image = make_image(served.task.id, served.task.classes[0], np.random.default_rng(0)).image
    upload = png_bytes(image)
    row = {"task": served.task.id, "model": served.name,
           "upload_to_result_ms": _median_ms(lambda: served.predict(read_image(upload).pixels), repeats)}
    for method in explain.CAM_METHODS:
        row[f"{method}_ms"] = _median_ms(lambda m=method: explain.heatmap(served, image, method=m), repeats)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="warm repeats per model timing")
    parser.add_argument("--visits", type=int, default=3, help="fresh servers for the first-visit timings")
    parser.add_argument("--no-models", action="store_true", help="only the first-visit timings")
    args = parser.parse_args(argv)
    from core.paths import SAMPLES_DIR
    from core.tasks import TASKS

    sample = sorted((SAMPLES_DIR / next(iter(TASKS))).glob("*.png"))[0]
    visits = [first_visit(sample) for _ in range(args.visits)]
    print(f"First visit of a fresh server, real browser ({len(visits)} servers; median, worst; target):")
    for key, label in (("uploader", "uploader on screen"), ("result", "first result")):
        values = [v[key] for v in visits]
        print(f"- {label}: {statistics.median(values):.1f} s, worst {max(values):.1f} s "
              f"(target <= {TARGETS_S[key]:.0f} s)")
    rows = []
    if not args.no_models:
        from core import explain
        from core.serving import list_models

        rows = [bench_model(card, args.repeats) for card in list_models()]
        cams = list(explain.CAM_METHODS)
        print("\n| task | model | upload -> result ms | " + " | ".join(f"{m} ms (x predict)" for m in cams) + " |")
        print("|---|---|---:|" + "---:|" * len(cams))
        for r in rows:
            cells = [f"{r[f'{m}_ms']:.0f} ({r[f'{m}_ms'] / r['upload_to_result_ms']:.1f}x)" for m in cams]
            print(f"| {r['task']} | {r['model']} | {r['upload_to_result_ms']:.1f} | " + " | ".join(cells) + " |")
    return {"visits": visits, "models": rows}


if __name__ == "__main__":
    main()
