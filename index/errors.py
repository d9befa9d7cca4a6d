"""Domain errors of sourced, in one place.

The library raises these; the CLI turns them into exit codes and the HTTP API into status codes,
each once, at its edge. Messages say what went wrong and what to do about it.
"""

from __future__ import annotations


class SourcedError(Exception):
    """Base of every error meant to be shown to a user."""

    http_status = 400
    exit_code = 1
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DocumentFormatError(SourcedError):
    """A file or record that cannot be read as an article (malformed JSON, YAML, HTML, ...).

    Loading in bulk skips it and reports its ``code`` as the kind of skip; the subclasses name
    the commoner mistakes.
    """

    code = "bad_document"
    http_status = 422


class UnsupportedFileTypeError(DocumentFormatError):
    code = "unsupported_type"


class NotTextError(DocumentFormatError):
    """Bytes that are not text in a declared or detected encoding (a binary file, say)."""

    code = "not_text"


class EmptyDocumentError(DocumentFormatError):
    code = "empty_document"


class BadMetadataError(DocumentFormatError):
    """A title, url, source or other field of the wrong type."""

    code = "bad_metadata"


class BadDateError(BadMetadataError):
    """A ``published`` value that is no date, or not a believable one."""

    code = "bad_date"


class InvalidDocumentIdError(SourcedError):
    code = "invalid_doc_id"
    http_status = 422


class DocumentNotFoundError(SourcedError):
    code = "document_not_found"
    http_status = 404
    exit_code = 4


class IndexNotFoundError(SourcedError):
    code = "index_not_found"
    http_status = 503
    exit_code = 3


class IndexMismatchError(SourcedError):
    """The index on disk was built with other settings (model, tokenizer, chunking)."""

    code = "index_mismatch"
    http_status = 409
    exit_code = 3


class IndexCorruptError(SourcedError):
    code = "index_corrupt"
    http_status = 503
    exit_code = 3


class IndexBusyError(SourcedError):
    """Another process holds the index's write lock."""

    code = "index_busy"
    http_status = 503
    exit_code = 5


class IndexReadOnlyError(SourcedError):
    """A write to an index directory this process may not write."""

    code = "index_read_only"
    http_status = 409
    exit_code = 5


class InvalidQueryError(SourcedError):
    """A question that cannot be asked (not valid text); the subclasses name the mistake."""

    code = "invalid_query"
    http_status = 422
    exit_code = 2


class EmptyQuestionError(InvalidQueryError):
    code = "empty_question"


class QuestionTooLongError(InvalidQueryError):
    code = "question_too_long"


class ModelLoadError(SourcedError):
    code = "model_load_failed"
    http_status = 503
    exit_code = 3


class InvalidFilterError(SourcedError):
    """A date window or source filter that cannot be applied (bad date, from after to, ...)."""

    code = "invalid_filter"
    http_status = 422
    exit_code = 2


class UnauthorizedError(SourcedError):
    """A write (or protected read) without the right API key."""

    code = "unauthorized"
    http_status = 401


class WritesDisabledError(SourcedError):
    """No API key is configured, so nobody may write."""

    code = "writes_disabled"
    http_status = 403


class AuthNotConfiguredError(SourcedError):
    """Settings that ask for protection without a key to protect with."""

    code = "auth_not_configured"


class UnsupportedMediaTypeError(SourcedError):
    code = "unsupported_media_type"
    http_status = 415
