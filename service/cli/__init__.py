"""The `feedback` command group. Every command builds the same app as the web server (create_app)."""
from __future__ import annotations

import importlib
import json
import os
import sys

import click

from .common import AppContext, emit_json, fail, pass_ctx  # noqa: F401

FEATURE_MODULES = (
    "service.cli.notes", "service.cli.themes", "service.cli.roadmap", "service.cli.drafts",
    "service.cli.eval", "service.cli.reports", "service.cli.demo", "service.cli.jobs",
    "service.cli.auth", "service.cli.erase", "service.cli.followups", "service.cli.search",
)


class SafeGroup(click.Group):
    """An unexpected error ends the command with one line and exit code 1, not a traceback
    (FEEDBACK_DEBUG=1 shows the traceback). Exit codes: 0 done, 1 the command failed (bad input in a file or
    standard input, not found, conflict, an unavailable dependency), 2 a usage error (a missing, conflicting or
    invalid option or argument), as click itself answers.

    A job a command runs itself (`feedback schedule --once`) is in the foreground: when it fails, the command's one
    error line names the job, its kind and the error, which the job's row keeps for `feedback jobs show`, and its
    traceback is not printed before that line (FEEDBACK_DEBUG=1 prints it). `feedback worker` still logs its jobs'
    tracebacks (service.jobs.queue.run_worker)."""

    def invoke(self, ctx):
        from ..jobs.queue import jobs_in_foreground

        try:
            with jobs_in_foreground(not os.environ.get("FEEDBACK_DEBUG")):
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # `feedback notes list | head`: the reader left; click ends quietly (exit code 1)
            raise
        except Exception as exc:
            from ..vectorstore import VectorStoreError

            if os.environ.get("FEEDBACK_DEBUG"):
                raise
            if isinstance(exc, VectorStoreError):  # a damaged, mismatched or unreachable index: the message says what to do
                click.echo(f"error: {exc}", err=True)
                sys.exit(1)
            click.echo(f"error: {type(exc).__name__}: {str(exc)[:500]} (FEEDBACK_DEBUG=1 shows the traceback)",
                       err=True)
            sys.exit(1)


@click.group(cls=SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="feedback-service", prog_name="feedback")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Feedback analysis: ingest notes, find pain themes, match the roadmap, draft answers."""
    ctx.obj = AppContext()


for _name in FEATURE_MODULES:
    try:
        _mod = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise
        continue
    _mod.register(cli)


# Loggers whose warnings a one-shot command already says in its own `warning:` line (a bad LLM reply, a fallback to
# the template): with no handler configured, Python printed the record bare on stderr as well, --json included.
SAID_BY_THE_COMMAND = ("service.llm", "service.drafts.llm_drafter")
LONG_RUNNING = {("worker",), ("schedule",), ("demo",)}  # their logs are the only record (demo serves pages): as they are


def _quiet_repeated_warnings(argv: list[str]) -> None:
    import logging

    words = [a for a in argv if not a.startswith("-")]
    if os.environ.get("FEEDBACK_DEBUG") or tuple(words[:1]) in LONG_RUNNING:
        return
    for name in SAID_BY_THE_COMMAND:
        logging.getLogger(name).addHandler(logging.NullHandler())  # no fallback to logging.lastResort


def main() -> None:  # console script entry point
    from ..vectorstore import VectorStoreError

    _quiet_repeated_warnings(sys.argv[1:])
    try:
        cli.main(prog_name="feedback", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except VectorStoreError as exc:  # e.g. an index built by another embedder: the message says what to run
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except SystemExit as done:
        _exit_now(done.code)
        raise


# Commands that only read: they may skip the interpreter's teardown. A command that writes vectors never does:
# Chroma may still be finishing its own index work in a native thread, which os._exit would cut short like a kill.
READ_ONLY = {("match",), ("stats",), ("themes", "list"), ("themes", "show"), ("roadmap", "list"),
             ("roadmap", "show"), ("roadmap", "coverage"), ("roadmap", "scores"), ("drafts", "list"),
             ("drafts", "show"), ("notes", "list"), ("notes", "show"), ("accounts", "list"), ("jobs", "list"),
             ("jobs", "show"), ("reports", "list"), ("reports", "show"), ("audit",), ("search",)}


def _command_path(argv: list[str]) -> tuple[str, ...]:
    words = [a for a in argv if not a.startswith("-")]
    return tuple(words[:1]) if tuple(words[:1]) in READ_ONLY else tuple(words[:2])


def _exit_now(code) -> None:
    """End a finished read-only command without the interpreter's teardown of chromadb, onnxruntime and scipy,
    which costs a short command like `feedback match` about a second. Only once the command has returned; the
    vector store and the database are closed here first, and the streams and logs flushed. Commands that write
    (READ_ONLY lists the others), a thread still working, or FEEDBACK_DEBUG: the normal exit."""
    import logging
    import threading

    from .common import close_open_apps

    if not (code is None or isinstance(code, int)):  # sys.exit("message"): the interpreter prints it
        return
    if _command_path(sys.argv[1:]) not in READ_ONLY:
        return
    if os.environ.get("FEEDBACK_DEBUG") or any(t is not threading.main_thread() and not t.daemon
                                               for t in threading.enumerate()):
        return
    try:
        close_open_apps()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # anything odd: let the normal exit clean up
        return
    os._exit(code or 0)


__all__ = ["cli", "main", "json"]
