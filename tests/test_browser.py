"""End to end in a real browser: a clinician uploads a phantom and reads the predicted class.

Starts ``streamlit run app.py`` on a free loopback port with the shipped models, drives Debian's
headless Chromium through Playwright, and saves a screenshot of the result for people to look at.
"""

import os
import shutil
from pathlib import Path

import pytest

from core.tasks import get_task
from tests.serving import free_port, running_app, streamlit_command

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT_DIR = Path(os.environ.get("E2E_SCREENSHOT_DIR", Path(__file__).resolve().parent.parent / "runs" / "e2e"))

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def test_uploading_a_phantom_shows_the_predicted_class(tmp_path):
    from playwright.sync_api import sync_playwright

    from core.paths import SAMPLES_DIR

    task = get_task("brain_mri_4class")
    sample = sorted((SAMPLES_DIR / task.id).glob("*.png"))[0]
    port = free_port()
    args = ["run", "app.py", f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true"]
    with running_app(streamlit_command(args), port) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{base}/diagnose", wait_until="domcontentloaded")
        page.locator('input[type="file"]').first.set_input_files(str(sample))
        # The verdict names one of the task's classes (or refuses); either way it is a sentence on the page.
        verdict = page.get_by_test_id("stMarkdownContainer").filter(has_text="Predicted")
        verdict.first.wait_for(timeout=120_000)
        text = verdict.first.inner_text()
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "diagnose.png"), full_page=True)
        browser.close()
    assert any(name in text for name in task.class_names.values()), text
