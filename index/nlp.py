"""spaCy, imported without PyTorch.

thinc (spaCy's machine-learning layer) imports torch whenever it is installed: about 2 s of every
cold start, though the small English pipeline is pure thinc and never calls it. While spaCy is
first imported, ``import torch`` is made to fail, so thinc records torch as absent; torch stays
importable afterwards for whatever needs it (the sentence-transformers embedder).
"""

from __future__ import annotations

import sys

_hide = "torch" not in sys.modules
if _hide:
    sys.modules["torch"] = None  # type: ignore[assignment]  # None in sys.modules: ImportError
try:
    import spacy
    from spacy.language import Language
    from spacy.tokens import Doc
finally:
    if _hide:
        del sys.modules["torch"]

__all__ = ["Doc", "Language", "spacy"]
