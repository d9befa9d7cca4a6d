"""The fitted models the reader ships with: small files, each checked by its hash before use.

``service/reader/models/`` holds, per model, ``NAME.npz`` (its arrays) and ``NAME.json`` (what it
is: the feature names it was fitted on, what data it was fitted on, its cross-validated figures
and the sha256 of the ``.npz``). ``python -m eval.train_reader`` writes both; this module only
reads them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ModelLoadError

MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class ModelFile:
    """A model's arrays and its description, as shipped."""

    name: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=16)
def load(name: str, directory: Path = MODELS_DIR) -> ModelFile:
    """Read ``NAME.npz`` and ``NAME.json`` from ``directory``, refusing a file whose hash is not
    the one its description records."""
    arrays_path, meta_path = directory / f"{name}.npz", directory / f"{name}.json"
    if not arrays_path.is_file() or not meta_path.is_file():
        raise ModelLoadError(
            f"The reader model {name!r} is missing from {directory}. Reinstall sourced, or train "
            "it: python -m eval.train_reader"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    digest = sha256(arrays_path)
    if digest != meta.get("sha256"):
        raise ModelLoadError(
            f"The reader model file {arrays_path} does not match its description (sha256 "
            f"{digest[:12]}..., expected {str(meta.get('sha256'))[:12]}...). Train it again: "
            "python -m eval.train_reader"
        )
    with np.load(arrays_path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return ModelFile(name, arrays, meta)


def save(name: str, arrays: dict[str, np.ndarray], meta: dict[str, Any],
         directory: Path = MODELS_DIR) -> Path:
    """Write a model's two files (the training command's side of ``load``)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays_path = directory / f"{name}.npz"
    np.savez_compressed(arrays_path, **arrays)
    meta = {**meta, "name": name, "sha256": sha256(arrays_path)}
    (directory / f"{name}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n",
                                            encoding="utf-8")
    load.cache_clear()
    return arrays_path
