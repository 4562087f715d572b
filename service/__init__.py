"""Feedback analysis service: one app factory for the web app, gunicorn and the `feedback` CLI."""
from __future__ import annotations

import os

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"


def create_app(config=None, *, embedder=None, store=None, llm=None, migrate: bool = True):
    """Build the app from a Config (default: the environment). Collaborators can be passed in (tests, CLI)."""
    from apiflask import APIFlask

    from .api import register_api
    from .config import Config
    from .services import Services

    config = config or Config()
    app = APIFlask(
        __name__, title="Feedback analysis API", version=__version__,
        spec_path="/api/v1/openapi.json", docs_path=None,  # the docs UI would load assets from a CDN
    )
    app.config.from_mapping(config.as_dict())
    app.config["FEEDBACK_CONFIG"] = config
    app.json.sort_keys = False
    services = Services(config, embedder=embedder, store=store, llm=llm)
    app.extensions["feedback"] = services
    if migrate:
        services.db.upgrade()
    register_api(app)
    _register_optional(app)
    return app


def _register_optional(app) -> None:
    """Feature blueprints register themselves here as they land (pages, themes, roadmap, drafts...)."""
    import importlib

    for module in ("service.limits", "service.auth", "service.web", "service.api.themes", "service.api.roadmap", "service.api.drafts", "service.api.reports",
                   "service.api.admin", "service.api.jobs", "service.api.followups"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        mod.init_app(app)
