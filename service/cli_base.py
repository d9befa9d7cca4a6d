"""What every ``sourced`` command shares, built in or registered by another package (the
``sourced.commands`` entry points, e.g. ``eval/cli.py``): the error edge, where domain errors
become a one-line message and their exit code, once; settings; the ``--index-dir`` option.

Light on purpose: it is imported before any command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from index.errors import SourcedError
from service.config import Settings

IndexDir = Annotated[
    Path | None,
    typer.Option("--index-dir", envvar="SOURCED_INDEX_DIR", help="Index directory (default ./.sourced)."),
]
F = TypeVar("F", bound=Callable[..., Any])


def load_settings(index_dir: Path | None, **overrides: Any) -> Settings:
    """Settings from the environment, with the options given on the command line (None: unset)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if index_dir is not None:
        values["index_dir"] = index_dir
    try:
        return Settings(**values)
    except ValueError as exc:
        raise SourcedError(f"Invalid settings: {exc}") from exc


def edge(func: F) -> F:
    """Turn domain errors into a one-line message and their exit code; never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SourcedError as exc:
            typer.secho(f"error: {exc.message}", fg="red", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.secho("interrupted: the index keeps every batch committed so far.", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
