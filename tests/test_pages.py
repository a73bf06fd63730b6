"""The pages stay thin and light: short scripts of st.* / core.* / widgets.* calls that never pull in TensorFlow.

The first visitor of a fresh server must see the uploader before the model (and TensorFlow) has loaded,
so no page, nor anything a page imports, may import TensorFlow; the model loads in a background thread.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "views").glob("*.py")) + ["app.py"]
ALLOWED_ROOTS = {"streamlit", "core", "widgets", "__future__"}

#: Runs with TensorFlow and Keras made unimportable: any import of them raises ImportError.
_BLOCKED = """
import ast, sys
sys.modules["tensorflow"] = None
sys.modules["keras"] = None
path = sys.argv[1]
for node in ast.parse(open(path).read()).body:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        exec(compile(ast.Module([node], []), path, "exec"), {})
print("imported without TensorFlow")
"""

_FIRST_PAGE = """
import sys
sys.modules["tensorflow"] = None
sys.modules["keras"] = None
from streamlit.testing.v1 import AppTest
for page in (None, "views/models.py", "views/about.py"):
    at = AppTest.from_file(sys.argv[1], default_timeout=30)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    shown = " ".join(t.value for t in at.text)
    assert "unexpected" not in shown and "cannot" not in shown, shown
    if page is None:
        assert at.file_uploader(key="diag_upload") is not None
print("drawn without TensorFlow")
"""


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_page_imports_tensorflow_even_indirectly(script):
    done = subprocess.run([sys.executable, "-c", _BLOCKED, script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_first_page_the_models_page_and_about_are_drawn_without_tensorflow():
    done = subprocess.run([sys.executable, "-c", _FIRST_PAGE, str(ROOT / "app.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_page_is_a_short_script_of_streamlit_core_and_widgets_calls(script):
    source = (ROOT / script).read_text()
    assert len(source.splitlines()) <= 70, f"{script} is {len(source.splitlines())} lines"
    imported = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= ALLOWED_ROOTS, f"{script} imports {sorted(imported - ALLOWED_ROOTS)}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_session_defaults_and_model_cache_are_not_rewritten_in_pages(script):
    source = (ROOT / script).read_text()
    assert "session_defaults" not in source  # widgets.require_session() instead
    assert "cache_resource" not in source  # widgets.served_model() / widgets.generator() instead
