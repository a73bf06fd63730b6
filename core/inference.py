"""Old import path of serving, kept for callers: ``core.inference.load_model`` and friends.

Everything lives in :mod:`core.serving`; this module only re-exports the public names.
"""

from core.serving.errors import ModelCardError, ModelIntegrityError, ModelNotFoundError, ServingError
from core.serving.served import BATCH_SIZE, OOD_LOADERS, Prediction, PredictionError, ServedModel, load_model
from core.serving.store import list_model_problems, list_models

__all__ = [
    "BATCH_SIZE", "OOD_LOADERS", "ModelCardError", "ModelIntegrityError", "ModelNotFoundError", "Prediction",
    "PredictionError", "ServedModel", "ServingError", "list_model_problems", "list_models", "load_model",
]
