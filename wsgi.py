"""gunicorn entry point: `gunicorn -w 2 wsgi:app` (set FEEDBACK_CHROMA_URL for more than one worker)."""
from service import create_app
from service.jobs.guard import hold_embedded_store

app = create_app()
# One web process per embedded Chroma folder (gunicorn.conf.py says so before the workers start; this catches a
# `feedback worker` or a second server on the same folder).
hold_embedded_store(app.config["FEEDBACK_CONFIG"], "the web server")
