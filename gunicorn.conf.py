"""Read by gunicorn from the working folder: refuse several workers on the embedded Chroma store up front.

The production profile (docs/deployment.md) runs `gunicorn -c gunicorn.conf.py -w 4` with FEEDBACK_CHROMA_URL.
"""
import os

# A request may take this long before its worker is restarted: an LLM draft with its one repair turn can take a
# minute (FEEDBACK_LLM_TIMEOUT is 30 s per call); anything longer is a background job.
timeout = 120


def on_starting(server):
    if server.cfg.workers > 1 and not os.environ.get("FEEDBACK_CHROMA_URL"):
        from service.jobs.guard import advice

        raise SystemExit(f"error: {server.cfg.workers} gunicorn workers: " + advice("each worker"))
