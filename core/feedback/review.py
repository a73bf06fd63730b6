"""What the Feedback page shows: entries and agreement rates in words a reviewer reads at a glance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.feedback.schema import OTHER_ANSWERS
from core.tasks import TASKS


def answer_label(task_id: str, answer: str) -> str:
    """A class id or other answer as the app names it (``meningioma`` -> ``Meningioma``)."""
    task = TASKS.get(task_id)
    names = {**(task.class_names if task else {}), **OTHER_ANSWERS}
    return names.get(answer, answer)


def entry_rows(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per entry, newest first as given: id, time, task, model, both answers, comment, initials."""
    return [{
        "#": e["id"], "Recorded (UTC)": e["created_at"].strftime("%Y-%m-%d %H:%M"),
        "Model said": answer_label(e["task_id"], e["model_answer"]),
        "Clinician": answer_label(e["task_id"], e["answer"]), "Agreed": e["agreed"],
        "Confidence": f"{100 * max(e['probabilities'].values(), default=0):.0f} %",
        "Model": e["model_name"], "Comment": e["comment"], "Initials": e["initials"],
        "Image kept": e["kept_image"],
        "Task": TASKS[e["task_id"]].display_name if e["task_id"] in TASKS else e["task_id"],
    } for e in entries]


def rate_rows(rates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model and class the model answered: answers, agreements and the agreement rate."""
    return [{
        "Model": f"{r['model_name']} ({r['model_sha256'][:8]})",
        "Task": TASKS[r["task_id"]].display_name if r["task_id"] in TASKS else r["task_id"],
        "Model said": answer_label(r["task_id"], r["model_answer"]), "Answers": r["answers"],
        "Agreed": r["agreed"], "Agreement": f"{100 * r['rate']:.0f} %",
    } for r in rates]
