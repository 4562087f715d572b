"""Engine and sessions: one engine per app, migrations applied with Alembic."""
from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .config import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The PostgreSQL advisory lock the migrations run under: a bigint of this app's own, the same in every process on
# every host (Python's hash() is salted per process), and unlikely to be another application's on a shared server.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"feedback-service:migrations").digest()[:8], "big", signed=True)

log = logging.getLogger(__name__)


class DatabaseUnavailable(ConfigError):
    """The database at FEEDBACK_DATABASE_URL does not answer when a process starts (not running, a database that does
    not exist, a refused user): one line naming the setting, as a value the service cannot use is, so that every
    entry point (gunicorn, `feedback init`, `feedback worker`, any command) stops with it instead of SQLAlchemy's
    text and a link. The password is never shown."""

    def __init__(self, url: str, cause: BaseException):
        orig = getattr(cause, "orig", None) or cause
        lines = str(orig).strip().splitlines()
        why = lines[0] if lines else type(orig).__name__
        shown = make_url(url).render_as_string(hide_password=True)
        super().__init__([f"the database at {shown} did not answer ({why}); start it or fix FEEDBACK_DATABASE_URL"])


class UnknownRevisions(ConfigError):
    """The database carries migrations this code does not have: a newer (or another branch's) version of the service
    upgraded it. Alembic said only "Can't locate revision identified by '0026_x'" (a traceback from gunicorn), and
    migrating further, or running this code against that schema, is unsafe; so the start stops with what to do."""

    def __init__(self, url: str, unknown: list[str]):
        shown = make_url(url).render_as_string(hide_password=True)
        super().__init__([
            f"the database at {shown} was migrated by a newer or different version of the service: this version does "
            f"not know its revision{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; run that version (or a "
            "later one) against it, or set FEEDBACK_DATABASE_URL to another database"])


def driver_url(url: str) -> str:
    """The URL SQLAlchemy opens: postgresql:// means psycopg 3 here (SQLAlchemy's default for it is psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str) -> Engine:
    """hide_parameters: a database error's text names the SQL but not its bound values (a note's words, an email),
    so a traceback in a worker's or the server's log carries no customer text."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(driver_url(url), pool_pre_ping=True, hide_parameters=True)


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessionmaker()

    @contextmanager
    def transaction(self):
        """A session whose work is committed together or not at all."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def alembic_config(self):
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self) -> None:
        """Apply the migrations up to the heads. On PostgreSQL, servers, workers and CLI commands on several hosts
        may start together against one database: each migrates in turn under a transaction-level advisory lock,
        so the next one waits, then finds the schema at the heads and does nothing (two at once made one fail on
        a duplicate table, or left the schema half done). The lock and the migrations share one transaction, so
        the lock goes with its commit or rollback, even when a migration fails part way. SQLite is one host's
        file: wsgi.py's FileLock orders the workers of a server."""
        from alembic import command

        self.check_answers()
        cfg = self.alembic_config()
        if self.engine.dialect.name != "postgresql":
            with self.engine.connect() as conn:
                current = self._check_known(conn, cfg)
            # Up to date: no migration transaction (env.py takes SQLite's write lock for one, and a command starting
            # while an ingest writes would wait for it)
            if current != self._heads(cfg):
                command.upgrade(cfg, "heads")
            return
        with self.engine.begin() as conn:
            if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}):
                # Said once, so that a start that seems to hang says what it waits for.
                log.warning("waiting for another process to finish migrating the database at %s (PostgreSQL "
                            "advisory lock %d)", make_url(self.url).render_as_string(hide_password=True),
                            MIGRATION_LOCK_KEY)
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            self._check_known(conn, cfg)
            cfg.attributes["connection"] = conn  # env.py migrates on this connection, inside this transaction
            command.upgrade(cfg, "heads")

    @staticmethod
    def _heads(cfg) -> set[str]:
        from alembic.script import ScriptDirectory

        return set(ScriptDirectory.from_config(cfg).get_heads())

    def _check_known(self, conn, cfg) -> set[str]:
        """The database's revisions; UnknownRevisions when this code lacks any of them."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        current = set(MigrationContext.configure(conn).get_current_heads())
        known = {script.revision for script in ScriptDirectory.from_config(cfg).walk_revisions()}
        unknown = sorted(current - known)
        if unknown:
            raise UnknownRevisions(self.url, unknown)
        return current

    def check_answers(self) -> None:
        """DatabaseUnavailable when no connection can be made; a migration that fails later stays its own error."""
        try:
            with self.engine.connect():
                pass
        except DBAPIError as exc:
            raise DatabaseUnavailable(self.url, exc) from exc

    def current_revisions(self) -> set[str]:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())

    def dispose(self) -> None:
        self.engine.dispose()
