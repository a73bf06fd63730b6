"""Every limit ``core.io`` puts on an untrusted file, in one place.

The byte limit is the app's upload limit too: ``.streamlit/config.toml`` sets ``maxUploadSize`` to
:data:`MAX_UPLOAD_MB` and a test checks that they agree, so a file the app accepts is never refused
by ``core.io`` for its size, and the other way round.
"""

from __future__ import annotations

#: The upload limit of the app, in megabytes as Streamlit counts them (MiB): ``server.maxUploadSize``.
MAX_UPLOAD_MB: int = 50
#: The same limit in bytes; ``core.io`` refuses a larger file before reading it.
MAX_UPLOAD_BYTES: int = MAX_UPLOAD_MB * 1024 * 1024
#: Largest file ``core.io`` reads (paths, bytes or uploads alike): the upload limit.
MAX_BYTES: int = MAX_UPLOAD_BYTES
#: Most pixels accepted (per frame); checked on the header, before decoding.
MAX_PIXELS: int = 40_000_000
#: Fewest pixels accepted on each side: smaller images carry nothing to classify.
MIN_SIDE: int = 16

#: Longest a decoding worker may take over one file, in seconds of wall time.
DECODE_SECONDS: float = 10.0
#: Most memory a decoding worker may use above its baseline (address space after its imports).
DECODE_MEMORY_BYTES: int = 1024 * 1024 * 1024
#: Longest message an :class:`~core.io.InvalidImageError` carries, in characters.
MESSAGE_CHARS: int = 300
#: Longest file name quoted in a message; longer names are shortened in the middle.
NAME_CHARS: int = 60
