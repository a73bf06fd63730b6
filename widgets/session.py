"""The session guard and the one model cache every page uses."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import streamlit as st

from core import ui


def require_session() -> None:
    """Send a visitor who opened a page's URL before ``app.py`` ever ran to the entry script, and back.

    ``app.py`` sets the session's defaults (task, model, memo) and the navigation; a page that Streamlit's
    legacy ``pages/`` mode runs directly would otherwise run without them. The page asked for is
    remembered, so ``app.py`` can open it again (:func:`return_to_requested_page`).
    """
    if "task_id" not in st.session_state:
        page = Path(inspect.stack()[1].filename)
        st.session_state["requested_page"] = f"{page.parent.name}/{page.name}"
        st.switch_page("app.py")


def return_to_requested_page() -> None:
    """In ``app.py``, after ``st.navigation``: open the page a deep link asked for (see :func:`require_session`)."""
    page = st.session_state.pop("requested_page", None)
    if page:
        st.switch_page(page)


@st.cache_resource(show_spinner=False)
def _pool() -> ui.ModelPool:
    # One pool per server process, shared by every session: each model is loaded once.
    return ui.ModelPool()


def preload_model(task_id: str, name: str | None) -> None:
    """Start loading the session's model in the background and return at once (the page draws meanwhile)."""
    _pool().start(*ui.served_model_args(task_id, name))


def served_model(task_id: str, name: str | None) -> Any:
    """The session's served model, waiting (with a spinner) while it is still loading.

    Raises:
        Whatever the loader raised (``ModelIntegrityError``, ``ModelNotFoundError``...): the caller shows it.
    """
    pool, args = _pool(), ui.served_model_args(task_id, name)
    if pool.ready(*args):
        return pool.get(*args)
    with st.spinner("Loading the model (once per server start)..."):
        return pool.get(*args)


@st.cache_resource(show_spinner="Loading the generator...")
def generator(path: str) -> Any:
    """A GAN generator, loaded (checked against its card) once per server and shared by every session."""
    return ui.load_generator(path)
