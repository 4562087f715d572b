"""Drafts for sales: code decides what the roadmap says about a question; a drafter only phrases it."""
