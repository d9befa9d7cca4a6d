"""Settings: one typed object, read from SOURCED_* environment variables (or a .env file).

Built by the app factory and the CLI, never at import, so tests pass ``Settings(...)`` directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embedding import DEFAULT_MODEL
from service.questions import MAX_QUESTION_CHARS

if TYPE_CHECKING:  # index.chunking imports spaCy, and spaCy torch: seconds a bad input never waits
    from index.chunking import ChunkSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_corpus_dir() -> Path:
    """``./corpus`` when run from a checkout, else the corpus shipped beside the package."""
    local = Path("corpus")
    return local if local.is_dir() else PROJECT_ROOT / "corpus"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOURCED_", env_file=".env", env_ignore_empty=True, extra="ignore")

    index_dir: Path = Field(default=Path(".sourced"), description="Where the index lives.")
    corpus_dir: Path = Field(default_factory=default_corpus_dir, description="Indexed on first run.")
    model: str = Field(default=DEFAULT_MODEL, description="sentence-transformers model name or path.")
    embedder: Literal["onnx", "sentence-transformers", "hash"] = Field(
        default="onnx", description="'onnx': all-MiniLM-L6-v2 as int8 ONNX (no torch); "
        "'sentence-transformers': the reference torch model; 'hash': a fast fake for tests.",
    )
    reader: Literal["extractive", "llm", "fake"] = Field(
        default="extractive", description="'llm' asks a chat model (SOURCED_LLM_*), verified "
        "like any answer, and falls back to the extractive reader; 'fake' is a deterministic "
        "stand-in for tests (no models).",
    )
    llm_url: str | None = Field(default=None, description="OpenAI-compatible chat endpoint for "
                                "SOURCED_READER=llm, e.g. http://localhost:11434/v1 (Ollama).")
    llm_model: str | None = Field(default=None, description="The model name the endpoint serves.")
    llm_key: SecretStr | None = Field(default=None, description="Bearer key for the endpoint.")
    llm_gguf: Path | None = Field(default=None, description="A local .gguf file run in-process "
                                  "(xllamacpp) when no SOURCED_LLM_URL is set.")
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds before the LLM reader "
                               "falls back to the extractive reader.")
    encoding: Literal["cl100k_base", "o200k_base"] = "cl100k_base"
    # 192 tiktoken tokens keeps chunks inside MiniLM's 256-wordpiece window.
    chunk_tokens: int = Field(default=192, ge=8, le=2048)
    chunk_overlap: int = Field(default=48, ge=0)
    top_k: int = Field(default=5, ge=1, le=50)
    reader_threads: int | None = Field(
        default=None, ge=1, le=256, description="Threads the reader's span model uses for one "
        "question. Default: every core this process may use; `sourced serve --workers N` gives "
        "each worker cores/N, so busy workers do not fight over the cores.")
    batch_docs: int = Field(default=32, ge=1, le=10_000, description="Documents per committed "
                            "batch when indexing: a killed run loses at most one batch.")
    ray_address: str | None = Field(default=None, description="A Ray cluster to index on "
                                    "(`auto`, host:port, ray://...; `local` starts one here).")
    ray_actors: int = Field(default=2, ge=1, le=1024, description="Ray actors processing "
                            "documents at once (each loads the model once).")
    ray_batch_docs: int = Field(default=8, ge=1, le=10_000, description="Documents per Ray batch.")
    max_question_chars: int = Field(default=MAX_QUESTION_CHARS, ge=10)
    undated_ok: bool = Field(
        default=False, description="Index files whose published value is no usable date "
        "(unreadable, more than a day ahead, before 1900) without a date, instead of skipping them.",
    )
    api_key: SecretStr | None = None
    protect_reads: bool = Field(
        default=False, description="Reads (/ask, /search, /documents) need the API key too."
    )
    max_body_bytes: int = Field(default=2_500_000, ge=1_000, description="Larger bodies get 413.")
    rate_limit_per_minute: int = Field(
        default=120, ge=0, description="Requests per client IP per minute (burst too); 0 = off."
    )
    # A program on the same machine (a batch client, a test) is the user, not a stranger.
    rate_limit_loopback: bool = Field(
        default=False, description="Limit loopback clients (127.0.0.0/8, ::1) too.",
    )

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be less than chunk_tokens ({self.chunk_tokens})."
            )
        return self

    @property
    def chunk_settings(self) -> ChunkSettings:
        from index.chunking import ChunkSettings

        return ChunkSettings(self.chunk_tokens, self.chunk_overlap, self.encoding)
