"""Nightly reports: build (structured data) -> render (HTML, Markdown) -> store -> deliver (webhook)."""
