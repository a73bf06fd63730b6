"""The one exception type of the dataset boundary."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset folder, split request or image file cannot be used as asked.

    The message says what was wrong and what a valid input looks like.
    """
