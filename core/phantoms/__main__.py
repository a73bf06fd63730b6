"""Command line: write phantom datasets in their public layouts.

    python -m core.phantoms --task brain_mri_4class --out data/phantoms --per-class 100 --seed 0
    python -m core.phantoms --task all --out data/phantoms --per-class 20 --seed 1 --contact-sheet
    python -m core.phantoms --task breast_us --out data/busi --per-class benign=100,malignant=10,normal=100 --seed 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ..tasks import TASKS
from .base import DIFFICULTIES
from .layouts import write_dataset
from .sheet import contact_sheet


def _per_class(text: str) -> int | dict[str, int]:
    """'50' or 'benign=100,malignant=10,normal=100'."""
    try:
        if "=" not in text:
            return int(text)
        pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
        return {name.strip(): int(count) for name, count in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a count: give a number (e.g. 50) or class=count pairs "
            "(e.g. benign=100,malignant=10,normal=100)."
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.phantoms", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, choices=[*TASKS, "all"],
                        help="task id, or 'all' for every task in subfolders named by task id")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--per-class", required=True, type=_per_class,
                        help="images per class: N, or class=N,class=N,... for every class")
    parser.add_argument("--seed", required=True, type=int, help="seed (same seed: identical files)")
    parser.add_argument("--size", type=int, default=None, help="square size in px (default: dataset's)")
    parser.add_argument("--difficulty", default="medium", choices=list(DIFFICULTIES))
    parser.add_argument("--contact-sheet", action="store_true",
                        help="also write contact_sheet.png beside each dataset")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, write the dataset(s), print each dataset root; returns the exit code."""
    args = build_parser().parse_args(argv)
    tasks = list(TASKS) if args.task == "all" else [args.task]
    for task in tasks:
        out = args.out / task if args.task == "all" else args.out
        try:
            root = write_dataset(task, out, args.per_class, args.seed, args.size, args.difficulty,
                                 progress=True)
            if args.contact_sheet:
                contact_sheet(task, out / "contact_sheet.png", seed=args.seed, size=args.size or 256,
                              difficulty=args.difficulty)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
