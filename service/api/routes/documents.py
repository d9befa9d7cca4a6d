"""``/documents``: list, read (with the text citations point into), add or replace, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from index.errors import DocumentNotFoundError
from index.loaders import document_from_record
from index.records import Document, slugify
from service.api.deps import DocIdDep, EngineDep, require_api_key, require_json
from service.api.errors import error_responses
from service.api.schemas import DocumentCreate, DocumentPublic, DocumentsPublic, DocumentSummary

router = APIRouter(
    prefix="/documents", tags=["documents"], responses=error_responses(422, 429, 503),
)


def _public(doc: Document) -> DocumentPublic:
    return DocumentPublic(
        doc_id=doc.doc_id, title=doc.title, url=doc.url, published=doc.published,
        source=doc.source, chars=len(doc.text), text=doc.text,
    )


@router.get("", response_model=DocumentsPublic)
def read_documents(
    engine: EngineDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DocumentsPublic:
    """A page of documents (metadata only), ordered by id."""
    rows, total = engine.list_documents(offset, limit)
    return DocumentsPublic(
        data=[DocumentSummary(**row) for row in rows], count=total, offset=offset, limit=limit
    )


@router.get("/{doc_id:path}", response_model=DocumentPublic, responses=error_responses(404))
def read_document(doc_id: DocIdDep, engine: EngineDep) -> DocumentPublic:
    """One document with its full ``text``: ``text[char_start:char_end]`` is a citation's quote."""
    return _public(engine.document(doc_id))


@router.post(
    "", response_model=DocumentPublic, status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_api_key), Depends(require_json)],
    responses={200: {"model": DocumentPublic, "description": "Replaced."},
               **error_responses(400, 401, 403, 413, 415)},
)
def create_document(body: DocumentCreate, engine: EngineDep, response: Response) -> DocumentPublic:
    """Add a document (201), or replace the one with the same ``doc_id`` (200).

    The next ``/ask`` sees it and it survives a restart. ``doc_id`` defaults to a slug of the title.
    """
    record = body.model_dump(exclude={"doc_id"}) | {"id": body.doc_id or slugify(body.title)}
    doc = document_from_record(record, where="document", origin="api")
    report = engine.index_documents([doc])
    if doc.doc_id not in report.added:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/documents/{doc.doc_id}"
    return _public(doc)


@router.delete(
    "/{doc_id:path}", status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(require_api_key)], responses=error_responses(401, 403, 404),
)
def delete_document(doc_id: DocIdDep, engine: EngineDep) -> Response:
    """Remove a document from the index (404 if it is not there)."""
    if engine.remove([doc_id]):
        raise DocumentNotFoundError(f"No document with id {doc_id!r}.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
