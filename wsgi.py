"""gunicorn entry point: `gunicorn -w 2 wsgi:app` (set FEEDBACK_CHROMA_URL for more than one worker).

A setting the service cannot use stops the start with one line naming it (no traceback). A Chroma server or Redis
that does not answer yet is one error line in the log: the server starts, answers 503 naming the dependency (or
queues jobs in SQL) and recovers when it is back. Refusing to start would take every worker down with it, since
gunicorn stops the whole server when a worker it restarts during the outage cannot load the app.
"""
from __future__ import annotations

import sys
from pathlib import Path

from service import create_app
from service.config import Config, ConfigError, check_settings_in_use, masked, unknown_settings


class StartupError(RuntimeError):
    """What stops the start, in one line that says what to fix."""


def build_app():
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from service.embedding import EmbeddingModelError
    from service.jobs.guard import SharedStoreError, hold_embedded_store
    from service.vectorstore import VectorStoreError

    try:
        config = Config()
        check_settings_in_use(config)
        app = _create_app_in_turn(config)
        # One web process per embedded Chroma folder (gunicorn.conf.py says so before the workers start; this
        # catches a `feedback worker` or a second server on the same folder).
        hold_embedded_store(config, "the web server")
        _load_embedder(app, config)
    except (ConfigError, SharedStoreError, EmbeddingModelError, VectorStoreError) as exc:
        raise StartupError(f"error: {exc}") from None
    except DBAPIError as exc:  # create_app applies the migrations (a database that does not answer is a ConfigError)
        shown = make_url(config.DATABASE_URL).render_as_string(hide_password=True)
        raise StartupError(f"error: the migrations of the database at {shown} failed ({_first_line(exc)}); "
                           "`feedback init` applies them and shows the details") from None
    for problem in unknown_settings():
        app.logger.warning("startup: %s; it is ignored", problem)
    _check_servers(app, config)
    # Without Redis the server's own thread pool runs jobs: it also runs what was left queued or running when it
    # last stopped, and what a CLI command queued meanwhile (no `feedback worker` may start beside it on the
    # embedded store).
    if not config.REDIS_URL:
        from service.jobs import queue_of

        queue_of(app).start_sweeping()
    return app


def _create_app_in_turn(config):
    """create_app applies the migrations: the workers of one server start together, and two of them migrating a
    fresh database at once made one fail ("table drafts already exists"), which stops the whole server. They take
    turns on a lock in FEEDBACK_HOME. Other hosts cannot see that file: on PostgreSQL, Database.upgrade also takes
    a database advisory lock, so servers, workers and CLI commands on several hosts take turns as well."""
    from filelock import FileLock

    home = Path(config.FEEDBACK_HOME)
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / "migrations.lock")):
        return create_app(config)


def _load_embedder(app, config) -> None:
    """Now rather than at the first request that embeds: a model that cannot load (weights that fail their sha256,
    a folder that is not a sentence-transformers model) stops the start instead of failing every such request."""
    from service.embedding import EmbeddingModelError

    try:
        app.extensions["feedback"].embedder  # noqa: B018
    except EmbeddingModelError:
        raise
    except Exception as exc:  # whatever the model's files make the loader raise
        model = config.EMBEDDING_MODEL or "the packaged model"
        raise EmbeddingModelError(f"FEEDBACK_EMBEDDING_MODEL={model!r} cannot be loaded with FEEDBACK_EMBEDDER="
                                  f"{config.EMBEDDER} ({type(exc).__name__}: {_first_line(exc)})") from exc


def _check_servers(app, config) -> None:
    """One error line per server that does not answer at startup; the server starts all the same."""
    if config.CHROMA_URL and not app.extensions["feedback"].store.heartbeat():
        app.logger.error("startup: no Chroma server answers at FEEDBACK_CHROMA_URL=%s: start `chroma run` or fix "
                         "the URL; until then the API answers 503 and /healthz says so", masked(config.CHROMA_URL))
    if config.REDIS_URL:
        from service.jobs.queue import redacted

        try:
            from redis import Redis

            Redis.from_url(config.REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            app.logger.error("startup: Redis does not answer at FEEDBACK_REDIS_URL=%s (%s): jobs wait in the database "
                             "and rate limits are not counted until it does", redacted(config.REDIS_URL),
                             _first_line(exc))


def _first_line(exc) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _stop(message: str):
    """gunicorn stops the whole server for AppImportError with just its message; other servers get SystemExit."""
    if "gunicorn" in sys.modules:
        from gunicorn.errors import AppImportError

        return AppImportError(message)
    return SystemExit(message)


try:
    app = build_app()
except StartupError as exc:
    raise _stop(str(exc)) from None
