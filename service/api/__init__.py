"""The JSON API under /api/v1, plus /healthz."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import text

from ..services import services
from ..vectorstore import STATEMENTS, IndexDamagedError, IndexMismatchError
from .errors import error_body, first_line, init_errors


def register_api(app) -> None:
    from .notes import bp as notes_bp
    from .search import bp as search_bp

    from .hygiene import init_app as init_hygiene
    from .openapi import init_app as init_openapi
    from .output import init_app as init_output

    init_errors(app)
    init_hygiene(app)
    init_output(app)
    init_openapi(app)
    app.register_blueprint(notes_bp)
    app.register_blueprint(search_bp)

    @app.get("/healthz")
    @app.doc(summary="Liveness and dependency check",
             responses={200: '{"status": "ok" | "degraded", "checks": {...}}',
                        503: "the database or the vector index cannot serve requests (details: the checks)"})
    def healthz():
        """200 "ok"; 200 "degraded" when only the job queue is down (jobs wait in SQL and still run later); 503 when
        the database or the vector index cannot serve requests. Each message is listed in docs/deployment.md."""
        from flask import current_app

        from ..jobs import queue_health

        svc = services()
        checks = {"database": _database_check(svc), "vector_store": _vector_store_check(svc)}
        queue = queue_health(current_app)
        if queue is not None:
            checks["job_queue"] = queue
        if any(checks[name] != "ok" for name in ("database", "vector_store")):
            return jsonify(error_body(503, "a dependency is unavailable", checks)), 503
        return {"status": "ok" if all(v == "ok" for v in checks.values()) else "degraded", "checks": checks}


def _database_check(svc) -> str:
    from flask import current_app

    try:
        with svc.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # report, don't crash: this is the health endpoint
        current_app.logger.error("healthz: database unavailable: %s", first_line(exc))
        return "unavailable: check that the database server runs and FEEDBACK_DATABASE_URL (reason in the server log)"


def _vector_store_check(svc) -> str:
    where = "the vector store"
    try:
        store = svc.store  # opening it can fail too (a folder another process holds, a server never reached)
        where = getattr(store, "location", where)
        if not store.heartbeat():
            return f"unreachable at {where}"
        store.count(STATEMENTS)  # a reachable store can still hold an index nobody can read
        return "ok"
    except IndexDamagedError:
        return "damaged: run `feedback reindex`"
    except IndexMismatchError:
        return "built by another embedder: run `feedback reindex`"
    except Exception as exc:
        from flask import current_app

        current_app.logger.error("healthz: vector store at %s: %s", where, first_line(exc))
        return f"error at {where}: {type(exc).__name__} (details in the server log)"
