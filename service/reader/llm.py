"""The LLM reader (opt-in, ``SOURCED_READER=llm``): a chat model proposes, the verifier decides.

The model sees the evidence sentences, numbered, and the extractive reader's candidates, and is
asked to copy one candidate back or say NONE. Its reply is accepted only as a span of an
evidence sentence (a candidate is one by construction; any other copied phrase must be found
there, verbatim up to case); anything else, a NONE, an error or a timeout
makes the reply fall back on what the extractive reader found, with a notice saying so. The
confidence stays the extractive calibrator's for that span, so the same abstention rule keeps
the model from answering what the articles do not say; a copied phrase that is none of the
extractive reader's candidates has no calibrated confidence and falls back too.

Two ways to reach a model: any OpenAI-compatible chat endpoint (``SOURCED_LLM_URL``, e.g.
Ollama's ``http://localhost:11434/v1``, vLLM, llama.cpp's server; ``SOURCED_LLM_MODEL``,
``SOURCED_LLM_KEY``), or a local GGUF file run in-process by ``xllamacpp``
(``SOURCED_LLM_GGUF``; ``pip install -e '.[llm]'``).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import TYPE_CHECKING

from index.errors import ModelLoadError, SourcedError
from service.conflicts import value_tokens
from service.reader.base import Found, Reader, Reading
from service.reader.evidence import Question, Sentence

if TYPE_CHECKING:
    from service.config import Settings

CANDIDATES_SHOWN = 8  # the extractive reader's best, listed in the prompt
SENTENCES_SHOWN = 8
# The candidates are listed without numbers and copied back: asked for a number ("C2"), the
# packaged 1.5B model named the second candidate whatever the list held (39 of 45 seed dev
# questions named a candidate other than the first; eval/README.md, "Four more tries").
_SYSTEM = (
    "You answer questions about news articles using only the numbered sentences given. "
    "Reply with one line: the candidate answer that answers the question, copied exactly as "
    "written, or NONE if the sentences do not say."
)
Chat = Callable[[list[dict]], str]


def prompt(question: Question, sentences: Sequence[Sentence], candidates: Sequence[Found]) -> list[dict]:
    lines = ["Sentences:"]
    lines += [f"S{i + 1}. {s.text}" for i, s in enumerate(sentences[:SENTENCES_SHOWN])]
    lines.append("Candidate answers:")
    lines += [f"- {c.text}" for c in candidates[:CANDIDATES_SHOWN]]
    lines.append(f"Question: {question.text}")
    lines.append("Answer (one candidate copied exactly, or NONE):")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def interpret(reply: str, sentences: Sequence[Sentence], candidates: Sequence[Found]) -> Found | None | str:
    """The span the reply names: a listed candidate (its text, up to case), else a phrase found
    verbatim in a shown sentence, the string "none" when the model says the text does not tell,
    or None when the reply is neither (then it is not trusted)."""
    text = reply.strip().strip("`'\" ").splitlines()[0].strip() if reply.strip() else ""
    if not text or re.fullmatch(r"(?i)none\.?|not (?:stated|given|mentioned)\.?", text):
        return "none"
    text = re.sub(r"(?i)^(?:answer:\s*|-\s+)", "", text).strip().rstrip(".")
    for c in candidates[:CANDIDATES_SHOWN]:
        if text and c.text.lower() == text.lower():
            return c
    for i, s in enumerate(sentences[:SENTENCES_SHOWN]):
        at = s.text.lower().find(text.lower()) if text else -1
        if at >= 0:
            span = s.text[at : at + len(text)]
            return Found(i, at, at + len(text), span, "LLM", 0.0)
    return None


class LLMReader:
    """Usage::

        reader = LLMReader(chat, fallback=ExtractiveReader.load(), timeout=30)
        reading = reader.read(question, sentences)
    """

    name = "llm"

    def __init__(self, chat: Chat, fallback: Reader, timeout: float = 30.0, label: str = "LLM") -> None:
        self.chat = chat
        self.fallback = fallback
        self.timeout = timeout
        self.label = label
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sourced-llm")

    @classmethod
    def from_settings(cls, settings: Settings, fallback: Reader) -> LLMReader:
        key = settings.llm_key.get_secret_value() if settings.llm_key else None
        if settings.llm_url:
            chat: Chat = HttpChat(str(settings.llm_url), settings.llm_model, key, settings.llm_timeout)
            label = f"{settings.llm_model or 'the model'} at {settings.llm_url}"
        elif settings.llm_gguf:
            chat = GgufChat(str(settings.llm_gguf))
            label = settings.llm_gguf.name
        else:
            raise SourcedError(
                "SOURCED_READER=llm needs a model: set SOURCED_LLM_URL (an OpenAI-compatible chat "
                "endpoint, e.g. http://localhost:11434/v1) or SOURCED_LLM_GGUF (a local .gguf file).")
        return cls(chat, fallback, settings.llm_timeout, label)

    def read(self, question: Question, sentences: Sequence[Sentence]) -> Reading:
        base = self.fallback.read(question, sentences)
        if not sentences:
            return base
        messages = prompt(question, sentences, base.candidates)
        try:
            reply = self._pool.submit(self.chat, messages).result(timeout=self.timeout)
        except FutureTimeout:
            return replace(base, notice=f"The LLM reader ({self.label}) did not answer within "
                                        f"{self.timeout:g} s; this is the extractive reader's answer.")
        except Exception as exc:  # a model server's failures are many; the user needs one line
            return replace(base, notice=f"The LLM reader ({self.label}) failed ({exc}); this is the "
                                        "extractive reader's answer.")
        chosen = interpret(reply, sentences, base.candidates)
        if chosen == "none":
            return Reading(candidates=base.candidates, confidence=0.0, expected_type=base.expected_type,
                           abstain_below=base.abstain_below,
                           reason="The LLM reader says the articles do not say.")
        if chosen is None:
            return replace(base, notice=f"The LLM reader's reply ({reply.strip()[:80]!r}) is not a "
                                        "span of the evidence; this is the extractive reader's answer.")
        same = next((c for c in base.candidates if value_tokens(c.text) == value_tokens(chosen.text)
                     and c.sentence == chosen.sentence), None)
        if same is None:
            # Its confidence would be borrowed from another answer: only a candidate's is calibrated.
            return replace(base, notice=f"The LLM reader's answer ({chosen.text[:80]!r}) is not one of "
                                        "the candidates the calibrator can score; this is the "
                                        "extractive reader's answer.")
        picked = replace(chosen, kind=same.kind, confidence=same.confidence)
        rest = [c for c in base.candidates if c is not same]
        return Reading([picked, *rest], same.confidence, base.expected_type,
                       abstain_below=base.abstain_below)


class HttpChat:
    """An OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(self, url: str, model: str | None, key: str | None, timeout: float) -> None:
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/chat/completions") else "/chat/completions")
        self.model = model
        self.key = key
        self.timeout = timeout

    def __call__(self, messages: list[dict]) -> str:
        body = {"messages": messages, "temperature": 0, "max_tokens": 48}
        if self.model:
            body["model"] = self.model
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"HTTP {exc.code} from {self.url}") from None
        return data["choices"][0]["message"]["content"] or ""


class GgufChat:
    """A GGUF model run in this process by xllamacpp (loaded on first use, one call at a time)."""

    def __init__(self, path: str, threads: int = 2, context: int = 2048) -> None:
        self.path, self.threads, self.context = path, threads, context
        self._server = None
        self._lock = threading.Lock()

    def _load(self):
        try:
            import xllamacpp
        except ImportError as exc:
            raise ModelLoadError("SOURCED_LLM_GGUF needs xllamacpp: pip install -e '.[llm]'") from exc
        params = xllamacpp.CommonParams()
        params.model.path = self.path
        params.n_ctx = self.context
        params.cpuparams.n_threads = self.threads
        params.verbosity = 0  # llama.cpp otherwise logs every slot operation of every question
        return xllamacpp.Server(params)

    def __call__(self, messages: list[dict]) -> str:
        with self._lock:
            if self._server is None:
                self._server = self._load()
            out = self._server.handle_chat_completions(
                {"messages": messages, "temperature": 0, "max_tokens": 48})
        if "error" in out:
            raise RuntimeError(str(out["error"])[:200])
        return out["choices"][0]["message"]["content"] or ""
