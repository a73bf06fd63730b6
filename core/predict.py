"""Batch second opinions from the command line: files and folders of scans -> one CSV row per file.

    python -m core.predict --task brain_mri_4class --csv results.csv scans/ extra.dcm
    python -m core.predict --task breast_us --cam-dir overlays/ --pdf-dir reports/ us_folder/

Each file gets its own row: its status (classified, uncertain, out of distribution or error), the
predicted class, the calibrated probability of every class, the prediction set, and the reason when
it was refused. A bad file never stops the run. Files are called "image 1 (3fa2c1)" (position and
short content hash) in every output unless ``--keep-names`` is given, because scan file names often
hold a patient's name. Exit code 0 when every file was processed (refusals included); 2 for usage
errors (unknown task, missing path, no files); 1 when the model itself cannot be used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Sequence

from core.tasks import TASKS

logger = logging.getLogger("core.predict")

#: Exit codes.
OK, MODEL_UNUSABLE, USAGE = 0, 1, 2


class UsageError(ValueError):
    """The command line asks for something that cannot be done; the message says what to change."""


def collect_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Every regular file named, or found (recursively, sorted, hidden files skipped) under a folder named.

    Args:
        inputs: file and folder paths, in the order given.

    Returns:
        The files, each once, in a stable order.

    Raises:
        UsageError: a path does not exist, or nothing was found.
    """
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(item).parts))
        elif item.is_file():
            files.append(item)
        else:
            raise UsageError(f"{item} does not exist; give files or folders of scans.")
    unique = list(dict.fromkeys(files))
    if not unique:
        raise UsageError("No files found in the folders given.")
    return unique


def _read_bytes(path: Path) -> bytes | str:
    """The file's bytes, or a sentence when it cannot be read or is too large to try."""
    from core.io import MAX_BYTES

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return f"is {size / 2**20:.0f} MiB, over the {MAX_BYTES / 2**20:.0f} MiB limit for one image."
        return path.read_bytes()
    except OSError as exc:
        return f"could not be opened ({exc.strerror or type(exc).__name__})."


def _output_stem(label: str, keep_names: bool, path: Path) -> str:
    return path.stem if keep_names else label.replace(" (", "-").replace(")", "").replace(" ", "-")


def run(task_id: str, files: Sequence[Path], *, model: str | None = None, csv: Path | None = None,
        cam_dir: Path | None = None, cam_method: str = "gradcam", pdf_dir: Path | None = None,
        keep_names: bool = False, progress: bool = True) -> list:
    """Analyse every file; write the CSV, overlays and reports asked for.

    Args:
        task_id: the task.
        files: the files, in output order.
        model: a served model name (default: the task's default model).
        csv: where to write the CSV (None: print it to stdout).
        cam_dir: folder for one overlay PNG per classified file.
        cam_method: a key of the CAM registry.
        pdf_dir: folder for one PDF report per file that was read.
        keep_names: label files by their names instead of "image N (hash)".
        progress: show a progress bar on stderr.

    Returns:
        The ``core.ui.FileResult`` of every file, in order.

    Raises:
        ModelNotFoundError, ModelIntegrityError: the model cannot be used (nothing was analysed).
    """
    from tqdm import tqdm

    from core import ui
    from core.atomic import atomic_write
    from core.ui import report

    ui.session.quiet_tensorflow()
    served = ui.load_served_model(task_id, model)
    results = []
    for index, path in enumerate(tqdm(files, unit="image", disable=not progress, file=sys.stderr)):
        data = _read_bytes(path)
        name = str(path) if keep_names else None
        if isinstance(data, str):
            label = name or f"image {index + 1}"
            results.append(ui.FileResult(label, error=f"{label} {data}"))
            continue
        label = ui.image_label(index, data, name)
        result = ui.analyse(served, label, data)
        results.append(result)
        if result.prediction is None:
            continue
        try:
            _write_extras(served, result, data, _output_stem(label, keep_names, path), cam_dir, cam_method, pdf_dir)
        except Exception as exc:  # an overlay or report that fails costs this file its extras, never the run
            result.error = ui.describe_failure(exc, f"writing the overlay or report of {label}")
    table = report.results_csv(served.task, results, served.card)
    if csv is None:
        sys.stdout.write(table.decode("utf-8"))
    else:
        with atomic_write(csv) as out:
            out.write(table)
    return results


def _write_extras(served, result, data: bytes, stem: str, cam_dir: Path | None, cam_method: str,
                  pdf_dir: Path | None) -> None:
    from core import ui
    from core.atomic import atomic_write
    from core.ui import report

    verdict = ui.verdict(served.task, result.prediction, served.card)
    overlay = None
    if verdict.label is not None and (cam_dir or pdf_dir):
        base, heat = ui.heatmap_of(served, result.image.pixels, verdict.label, cam_method)
        overlay = ui.colour_overlay(base, heat, 0.45)
        if cam_dir:
            with atomic_write(Path(cam_dir) / f"{stem}.png") as out:
                out.write(ui.png_bytes(overlay))
    if pdf_dir:
        pdf = report.build_pdf(served.task, result.prediction, served.card, result.image.pixels, overlay,
                               source_name=result.name, cam_method=ui.cam_labels().get(cam_method),
                               colour_scale=ui.colour_scale() if overlay is not None else None,
                               facts=ui.dicom_facts(result.image.metadata, result.image.format))
        with atomic_write(Path(pdf_dir) / report.report_filename(served.task.id, data, dt.date.today())) as out:
            out.write(pdf)


def parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m core.predict", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=list(TASKS), help="what to diagnose")
    p.add_argument("--model", help="served model name (default: the task's default model)")
    p.add_argument("--csv", type=Path, help="write the results here (default: print them)")
    p.add_argument("--cam-dir", type=Path, help="write one heat-map overlay PNG per classified image here")
    p.add_argument("--cam-method", default="gradcam", help="heat-map method (default: gradcam)")
    p.add_argument("--pdf-dir", type=Path, help="write one PDF report per image here")
    p.add_argument("--keep-names", action="store_true",
                   help="name files by their paths in every output (off: 'image N (hash)', as names may identify "
                        "a patient)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("inputs", nargs="+", metavar="FILES_OR_FOLDERS")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = parser().parse_args(argv)  # exits 2 with argparse's usage message on a bad flag
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        from core.explain.registry import CAM_METHODS

        if args.cam_method not in CAM_METHODS:
            raise UsageError(f"Unknown heat-map method '{args.cam_method}'; choose one of: {', '.join(CAM_METHODS)}.")
        files = collect_files(args.inputs)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    from core.serving.errors import ServingError

    try:
        results = run(args.task, files, model=args.model, csv=args.csv, cam_dir=args.cam_dir,
                      cam_method=args.cam_method, pdf_dir=args.pdf_dir, keep_names=args.keep_names,
                      progress=not args.quiet)
    except ServingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return MODEL_UNUSABLE
    counts: dict[str, int] = {}
    for r in results:
        status = "error" if r.prediction is None else ("out of distribution" if r.prediction.label is None else
                                                       "uncertain" if r.prediction.uncertain else "classified")
        counts[status] = counts.get(status, 0) + 1
    print(f"{len(results)} files: " + ", ".join(f"{n} {s}" for s, n in counts.items()), file=sys.stderr)
    return OK


if __name__ == "__main__":
    sys.exit(main())
