"""The Dockerfile builds a working demo: what it copies exists, and its command serves the app.

No Docker engine runs on the project's machines, so the image itself is not built here;
these tests check the two things that break such images in practice.
"""

import json
import re

import pytest

from tests.serving import REPO_ROOT, free_port, running_app, streamlit_command

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def _copy_sources() -> list[str]:
    sources = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            sources.extend(parts[:-1])
    return sources


def test_base_image_is_pinned_and_the_app_runs_as_a_non_root_user():
    base = re.search(r"^FROM (\S+)", DOCKERFILE, re.M).group(1)
    assert re.search(r":\d+\.\d+\.\d+", base), f"base image {base} is not pinned to a patch version"
    assert re.search(r"^USER (?!root)\S+", DOCKERFILE, re.M)
    assert "EXPOSE 8501" in DOCKERFILE
    assert "/_stcore/health" in DOCKERFILE


@pytest.mark.parametrize("source", _copy_sources())
def test_every_path_the_dockerfile_copies_exists(source):
    assert (REPO_ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


def test_the_start_command_serves_the_app_and_answers_the_health_check():
    cmd = json.loads(re.search(r"^CMD (\[.*\])", DOCKERFILE, re.M).group(1))
    assert cmd[:2] == ["streamlit", "run"] and "--server.address=0.0.0.0" in cmd
    port = free_port()
    # Same command, but on loopback and a free port so parallel runs cannot collide.
    args = [a for a in cmd[1:] if not a.startswith(("--server.port", "--server.address"))]
    args += [f"--server.port={port}", "--server.address=127.0.0.1"]
    with running_app(streamlit_command(args), port) as base:
        import urllib.request

        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as resp:
            assert resp.read().decode().strip() == "ok"
