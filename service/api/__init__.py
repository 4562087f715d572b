"""The JSON API under /api/v1, plus /healthz."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import text

from ..services import services
from ..vectorstore import STATEMENTS, IndexDamagedError, IndexMismatchError
from .errors import error_body, init_errors


def register_api(app) -> None:
    from .notes import bp as notes_bp

    from .hygiene import init_app as init_hygiene
    from .openapi import init_app as init_openapi
    from .output import init_app as init_output

    init_errors(app)
    init_hygiene(app)
    init_output(app)
    init_openapi(app)
    app.register_blueprint(notes_bp)

    @app.get("/healthz")
    @app.doc(summary="Liveness and dependency check")
    def healthz():
        svc = services()
        checks = {}
        try:
            with svc.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # report, don't crash: this is the health endpoint
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            checks["vector_store"] = "ok" if svc.store.heartbeat() else "unreachable"
            if checks["vector_store"] == "ok":
                svc.store.count(STATEMENTS)  # a reachable store can still hold an index nobody can read
        except IndexDamagedError:
            checks["vector_store"] = "damaged: run `feedback reindex`"
        except IndexMismatchError:
            checks["vector_store"] = "built by another embedder: run `feedback reindex`"
        except Exception as exc:
            checks["vector_store"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        if not ok:
            return jsonify(error_body(503, "a dependency is unavailable", checks)), 503
        return {"status": "ok", "checks": checks}
