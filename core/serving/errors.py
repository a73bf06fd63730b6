"""The one error family of serving: a model cannot be found, or one of its files cannot be trusted.

Every artefact a served model depends on (weights, card, out-of-distribution file, generator)
is refused with :class:`ModelIntegrityError` and the same sentence, so the app, the batch
command line and the training scripts all say the same thing a clinician can act on.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base of every error raised while finding or loading a served model."""


class ModelNotFoundError(ServingError):
    """No usable model where the app looks; the message says where to put one."""


class ModelIntegrityError(ServingError):
    """A served file that was modified, corrupted, or cannot be loaded safely."""


class ModelCardError(ModelIntegrityError):
    """A model whose card is invalid or does not describe its weights."""


#: One name for "an artefact failed its check", whatever its kind.
ArtefactError = ModelIntegrityError

#: What every integrity refusal says (``{what}`` names the file and its role).
INTEGRITY_SENTENCE = ("{what} does not match the sha256 in its card: it was modified or corrupted after the card "
                      "was written. Restore the file or publish the model again.")


def integrity_error(what: str, detail: str | None = None) -> ModelIntegrityError:
    """The integrity refusal for one artefact.

    Args:
        what: the file and its role, e.g. ``"The weights small_cnn.keras"``.
        detail: an optional short reason, appended in parentheses (never raw file content).

    Returns:
        A ModelIntegrityError whose message starts with the integrity sentence.
    """
    message = INTEGRITY_SENTENCE.format(what=what)
    if detail:
        message = f"{message} ({detail[:200]})"
    return ModelIntegrityError(message)
