from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..models.base import MAX_ROW_ID


# A database row id (theme, statement, report, draft): id columns are INTEGER (4 bytes on PostgreSQL), so a larger
# number is a usage error here rather than a DataError in the driver.
class _RowId(click.IntRange):
    name = "id (a whole number)"  # click's own word, "integer range", read as if a range were asked for


ROW_ID = _RowId(1, MAX_ROW_ID)
OPEN_APPS: list = []  # apps built by this process's commands, closed by cli.main's fast exit


def close_open_apps() -> None:
    """Close the vector store and database of every app a command built here, and forget them. A command runs in
    its own process, so this matters where several run in one: an in-process caller (the tests' CLI runner) calls
    it after each command, so that no client of one command reads a folder a later one replaced (Services.close)."""
    while OPEN_APPS:
        OPEN_APPS.pop().extensions["feedback"].close()


class UnitInterval(click.FloatRange):
    """A number from 0 to 1; NaN is refused (it compares false with both bounds, so FloatRange lets it through)."""

    name = "number from 0 to 1"

    def __init__(self):
        super().__init__(0, 1)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number from 0 to 1", param, ctx)
        return number


UNIT_INTERVAL = UnitInterval()


def refuse_empty(what: str):
    """A click callback: an empty (or blank) value is a usage error naming the option or argument, exit code 2.
    `--since "$DAY"` or `ingest "$FILE"` with the variable unset meant no filter at all, a report printed to stdout
    instead of --out, or the current folder ingested whole; a path's reader then failed on "" as a folder."""

    def check(ctx, param, value):
        values = value if isinstance(value, tuple) else (value,)
        if any(v is not None and not str(v).strip() for v in values):
            leave_out = "" if param.param_type_name == "argument" or param.required else ", or leave the option out"
            raise click.BadParameter(f"it is empty: give {what}{leave_out}", ctx, param)
        return value

    return check


class AppContext:
    """Builds the app lazily: `feedback --help` never loads a model or opens a database."""

    def __init__(self):
        self._app = None

    @property
    def app(self):
        if self._app is None:
            from .. import create_app
            from ..config import ConfigError
            from ..embedding import EmbeddingModelError
            from ..vectorstore import VectorStoreError

            try:
                self._app = create_app()
            except (ConfigError, EmbeddingModelError, VectorStoreError) as exc:  # one line naming the setting
                fail(str(exc), code=1)
            except OSError as exc:  # FEEDBACK_HOME a file, say: it was "FileExistsError: [Errno 17] File exists"
                if exc.filename is None:  # not about a path: the group's one-line error says what it was
                    raise
                why = ("it, or a folder above it, is a file" if isinstance(exc, (FileExistsError, NotADirectoryError))
                       else exc.strerror or str(exc))
                fail(f"cannot use {exc.filename} for the data: {why} (check FEEDBACK_HOME, FEEDBACK_DATABASE_URL "
                     "and FEEDBACK_CHROMA_PATH)", code=1)
            OPEN_APPS.append(self._app)
        return self._app

    @property
    def services(self):
        return self.app.extensions["feedback"]


pass_ctx = click.make_pass_decorator(AppContext)


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(message: str, code: int = 1):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def read_text_file(path: str) -> str:
    """A UTF-8 text file given to an option (or - for standard input); an unreadable one ends the command with
    an error naming the file (and the line of an undecodable byte), exit code 1."""
    from ..ingest.readers import ReaderError, decode

    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        return decode(raw, "stdin" if path == "-" else path)
    except ReaderError as exc:
        fail(str(exc.errors[0]))
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


def progress_bar(total: int, label: str, quiet: bool):
    """A tqdm bar on a terminal; silent in pipes, CI and with --quiet."""
    if quiet or total == 0 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="stmt", file=sys.stderr, leave=False)
