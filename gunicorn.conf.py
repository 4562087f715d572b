"""Read by gunicorn from the working folder: refuse several workers on the embedded Chroma store up front.

The production profile (docs/deployment.md) runs `gunicorn -c gunicorn.conf.py -w 4` with FEEDBACK_CHROMA_URL.
"""
import os

# Threads per worker (gthread): a request waiting on the database's ingest lock or on the LLM no longer holds up
# the cheap reads behind it. Measured with `python -m eval.load` (eval/README.md, "Load test"): 4 threads took
# GET /api/v1/themes from p50 2.4 s to 0.13 s and drafts from p95 10 s to 5.6 s under the same load.
threads = 4

# A request may take this long before its worker is restarted: an LLM draft with its one repair turn can take a
# minute (FEEDBACK_LLM_TIMEOUT is 30 s per call); anything longer is a background job.
timeout = 120


def on_starting(server):
    if server.cfg.workers > 1 and not os.environ.get("FEEDBACK_CHROMA_URL"):
        from service.jobs.guard import advice

        raise SystemExit(f"error: {server.cfg.workers} gunicorn workers: " + advice("each worker"))
