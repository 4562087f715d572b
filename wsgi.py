"""gunicorn entry point: `gunicorn -w 2 wsgi:app` (set FEEDBACK_CHROMA_URL for more than one worker)."""
from service import create_app
from service.jobs.guard import hold_embedded_store

app = create_app()
# One web process per embedded Chroma folder (gunicorn.conf.py says so before the workers start; this catches a
# `feedback worker` or a second server on the same folder).
hold_embedded_store(app.config["FEEDBACK_CONFIG"], "the web server")

# Without Redis the server's own thread pool runs jobs: it also runs what was left queued or running when it last
# stopped, and what a CLI command queued meanwhile (no `feedback worker` may start beside it on the embedded store).
if not app.config.get("REDIS_URL"):
    from service.jobs import queue_of

    queue_of(app).start_sweeping()
