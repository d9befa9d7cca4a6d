"""The reader: from a question and its evidence sentences to ranked, calibrated answers.

``make_reader`` builds the one the settings ask for (``SOURCED_READER``): ``extractive`` (the
default, fitted models over stored annotations) or ``llm`` (a chat model whose answer must be a
span of the evidence, with the extractive reader behind it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.reader.base import Found, Reader, Reading

if TYPE_CHECKING:
    from index.embedding import Embedder
    from service.config import Settings


def make_reader(settings: Settings, embedder: Embedder | None = None) -> Reader:
    if settings.reader == "fake":
        from service.reader.fake import FakeReader

        return FakeReader()
    from service.config import available_cores
    from service.reader.extractive import ExtractiveReader

    extractive = ExtractiveReader.load(threads=settings.reader_threads or available_cores())
    extractive.warm_up()
    if settings.reader == "llm":
        from service.reader.llm import LLMReader

        return LLMReader.from_settings(settings, fallback=extractive)
    return extractive


__all__ = ["Found", "Reader", "Reading", "make_reader"]
