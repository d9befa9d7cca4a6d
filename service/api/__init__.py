"""The HTTP API and web form: ``create_app()`` builds a FastAPI app over one ``Engine``."""

from service.api.app import create_app

__all__ = ["create_app"]
