"""Read by gunicorn from the working folder: refuse several workers on the embedded Chroma store up front."""
import os


def on_starting(server):
    if server.cfg.workers > 1 and not os.environ.get("FEEDBACK_CHROMA_URL"):
        from service.jobs.guard import advice

        raise SystemExit(f"error: {server.cfg.workers} gunicorn workers: " + advice("each worker"))
