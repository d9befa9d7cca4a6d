"""What makes a question askable: checked before anything heavy loads, by the CLI, the API's
schema and the answerer alike, so each mistake gets one message and one code everywhere.

Imports nothing heavy on purpose: ``sourced ask ""`` must fail before torch is imported.
"""

from __future__ import annotations

import re

from index.errors import EmptyQuestionError, InvalidQueryError, QuestionTooLongError

# Something ``str.split()`` and ``str.strip()`` keep, and that ECMA-262's ``\s`` does not call
# blank either: Python's ``\s`` has U+001C-U+001F and U+0085 (NEL), ECMA's has U+FEFF. Spelled
# out so that Python's ``re`` and JSON Schema validators (ECMA-262, Rust) read it the same way.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
MAX_QUESTION_CHARS = 1000
EXAMPLE = "How many US troops are in Iraq?"


def check_question(question: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question with its whitespace collapsed; raises ``InvalidQueryError`` (a subclass per
    mistake) with a sentence that says what to do."""
    if not re.search(NOT_BLANK, question):  # "\ufeff" too: the API's schema calls it blank
        raise EmptyQuestionError(f"The question is empty. Ask something, e.g. '{EXAMPLE}'")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8, escaped by the shell's decoding
        raise InvalidQueryError(
            "The question is not valid UTF-8 text: type it again (in a terminal, check that it "
            "uses UTF-8)."
        ) from None
    # The length as sent, as the API's schema (maxLength) counts it.
    if len(question) > max_chars:
        raise QuestionTooLongError(
            f"The question is {len(question):,} characters long; the limit is {max_chars:,}. "
            "Ask it in fewer words."
        )
    return " ".join(question.split())
