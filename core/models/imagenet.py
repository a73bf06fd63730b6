"""ImageNet weights for the transfer-learning backbones, with an offline-friendly failure.

Keras downloads ImageNet weights on first use into ``~/.keras/models``. Hospital and CI
machines are often offline, and Keras' own error then says only "URL fetch failure".
We watch Keras' download call to learn the exact file it wanted and its URL, and raise
:class:`ImageNetWeightsUnavailable` telling the researcher where to put that file.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Iterator

from keras.src.utils import file_utils as _keras_file_utils

from core.paths import KERAS_WEIGHTS_DIR

#: Seconds a stalled connection may block before we give up (per socket operation,
#: so a slow but working download still completes).
DOWNLOAD_TIMEOUT_S = 15.0

#: Weight-file endings Keras' ``load_weights`` reads.
WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".keras")

# Swapping a module attribute is process-wide, so two builds must not interleave.
_DOWNLOAD_LOCK = threading.Lock()


class ImageNetWeightsUnavailable(RuntimeError):
    """ImageNet weights were requested but could not be downloaded or found offline.

    Attributes:
        backbone: registry name of the backbone.
        file_name: the file Keras looks for in ``~/.keras/models``.
        url: where Keras downloads it from.
    """

    def __init__(self, backbone: str, file_name: str, url: str, reason: str):
        self.backbone, self.file_name, self.url = backbone, file_name, url
        target = KERAS_WEIGHTS_DIR / file_name
        super().__init__(
            f"The ImageNet weights for '{backbone}' could not be downloaded ({reason}). "
            f"Keras needs the file '{file_name}' from {url} . For offline use, download it on a "
            f"machine with internet access and copy it to {target} (Keras' weights folder, "
            f"core.paths.KERAS_WEIGHTS_DIR), or pass weights='<path to the file>' instead of "
            f"'imagenet'; weights=None trains from scratch."
        )


@contextlib.contextmanager
def imagenet_download_guard(backbone: str, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Iterator[None]:
    """Run a ``keras.applications`` constructor so that a failed download explains itself.

    Args:
        backbone: registry name, used in the error message.
        timeout_s: socket timeout for the download, so a firewalled network fails fast.

    Raises:
        ImageNetWeightsUnavailable: Keras could not fetch the weights file.
    """
    original = _keras_file_utils.get_file

    def guarded_get_file(fname=None, origin=None, *args, **kwargs):
        previous_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout_s)
        try:
            return original(fname, origin, *args, **kwargs)
        except Exception as exc:  # Keras raises a bare Exception for URL failures
            # Keras repeats the URL in its message; the URL gets its own sentence below.
            reason = str(exc).replace(f" on {origin}", "").strip() or type(exc).__name__
            raise ImageNetWeightsUnavailable(backbone, str(fname), str(origin), reason) from exc
        finally:
            socket.setdefaulttimeout(previous_timeout)

    with _DOWNLOAD_LOCK:
        _keras_file_utils.get_file = guarded_get_file
        try:
            yield
        finally:
            _keras_file_utils.get_file = original


def check_weights_argument(backbone: str, weights: str | Path | None, pretrained: bool) -> str | None:
    """Validate ``weights`` before any layer is built.

    Args:
        backbone: registry name, for the message.
        weights: ``None``, ``"imagenet"`` or a path to a weights file.
        pretrained: whether this architecture has published ImageNet weights.

    Returns:
        ``None``, ``"imagenet"`` or the path as a string.

    Raises:
        ValueError: ImageNet asked of a model without it, or a path that is missing or of the
            wrong kind.
    """
    if weights is None:
        return None
    if isinstance(weights, str) and weights == "imagenet":
        if not pretrained:
            raise ValueError(
                f"'{backbone}' is trained from scratch and has no ImageNet weights; "
                "use weights=None or a path to weights saved from this architecture."
            )
        return "imagenet"
    if not isinstance(weights, (str, Path)):
        raise ValueError(
            f"weights must be None, 'imagenet' or a path to a weights file; got {weights!r}."
        )
    path = Path(weights).expanduser()
    if not path.name.endswith(WEIGHT_FILE_SUFFIXES):
        raise ValueError(
            f"Weights file '{path}' should end with one of {', '.join(WEIGHT_FILE_SUFFIXES)}."
        )
    if not path.is_file():
        raise ValueError(f"Weights file '{path}' does not exist.")
    return str(path)
