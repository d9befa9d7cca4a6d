"""Ask a running ``sourced serve`` over HTTP (``sourced ask --server URL``): the CLI then starts
in a fraction of a second and pays no model or index loading."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from index.errors import InvalidQueryError, SourcedError
from service.filters import Filters
from service.schemas import Answer


class RemoteAsker:
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None) -> Answer:
        body: dict = {"question": question}
        if top_k:
            body["top_k"] = top_k
        if filters is not None and filters.active:
            body["published_from"] = filters.published_from.isoformat() if filters.published_from else None
            body["published_to"] = filters.published_to.isoformat() if filters.published_to else None
            body["sources"] = list(filters.sources) or None
        request = urllib.request.Request(f"{self.url}/ask", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Answer.model_validate_json(response.read())
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())
            except ValueError:
                error = {"detail": f"HTTP {exc.code} from {self.url}", "code": "error"}
            cls = InvalidQueryError if exc.code == 422 else SourcedError
            raise cls(f"{error.get('detail')} (from {self.url})") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SourcedError(
                f"No sourced server answers at {self.url} ({getattr(exc, 'reason', exc)}). Start one "
                "with `sourced serve`, or leave out --server to answer here.") from None
