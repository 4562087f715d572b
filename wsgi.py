"""gunicorn entry point: `gunicorn -w 2 wsgi:app` (set FEEDBACK_CHROMA_URL for more than one worker)."""
from service import create_app

app = create_app()
