"""The one sanitiser every refusal of ``core.io`` passes through.

A message may quote a file name, and a file name is user input: it can hold control characters,
bidirectional overrides or thousands of characters. :func:`plain_sentence` makes any text a single
printable line of at most :data:`~core.io.limits.MESSAGE_CHARS` characters;
:class:`~core.io.InvalidImageError` applies it to every message it is given, so no path around it
exists. Messages never quote library text or file bytes in the first place (the readers word their
own sentences); this is the net under that rule, not a substitute for it.
"""

from __future__ import annotations

import re
import unicodedata

from core.io.limits import MESSAGE_CHARS, NAME_CHARS

# Control, format (e.g. right-to-left override), surrogate, private-use and unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SPACES = re.compile(r"\s+")


def printable(text: str) -> str:
    """Replace every invisible or control character by a space and collapse runs of spaces.

    Args:
        text: any text.

    Returns:
        One line of visible characters and single spaces, stripped.
    """
    visible = "".join(" " if unicodedata.category(char) in _HIDDEN_CATEGORIES else char for char in str(text))
    return _SPACES.sub(" ", visible).strip()


def plain_sentence(text: object, limit: int = MESSAGE_CHARS) -> str:
    """Make ``text`` a single printable line of at most ``limit`` characters.

    Args:
        text: the message (anything with a ``str``).
        limit: most characters kept; a longer message is cut at a word and ends with an ellipsis.

    Returns:
        The cleaned message.
    """
    line = printable(str(text))
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:  # end on a whole word when one is near
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "\u2026"


def file_label(name: str) -> str:
    """How a file is named at the start of a message: "The file 'scan.png'" or "The file".

    Args:
        name: the file's base name ('' when unknown); shortened in the middle when long.

    Returns:
        The subject of a refusal sentence.
    """
    clean = printable(name)
    if len(clean) > NAME_CHARS:
        half = (NAME_CHARS - 1) // 2
        clean = clean[:half] + "\u2026" + clean[-half:]
    return f"The file '{clean}'" if clean else "The file"
