"""Models: what they are (spec), where they are (registry), and running them (session)."""

from .registry import KNOWN_MODELS, known_model, model_path
from .spec import ModelSpec

__all__ = ["KNOWN_MODELS", "ModelSpec", "known_model", "model_path"]
