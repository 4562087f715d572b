"""The one authorization table: which role an endpoint needs. Enforced in one place (service.auth.guard).

Roles are ordered: each may do everything the ones before it may. An endpoint missing from this table is
refused to everyone (a test checks that every route of the app is listed).
"""
from __future__ import annotations

from ..models.auth import ROLES

PUBLIC = frozenset({"healthz", "openapi.spec", "static", "auth.sign_in", "auth.sign_in_link", "auth.sign_out"})

VIEWER, SALES, PM, ADMIN = ROLES

REQUIRED_ROLE = {
    # pages
    "web.index": VIEWER, "web.paste": PM,
    "pages.themes": VIEWER, "pages.theme": VIEWER, "pages.run_themes": PM, "pages.confirm_theme_item": PM,
    "pages.edit_theme": PM,  # rename, merge, move, hide from the theme page
    "pages.note": PM,  # raw notes: only those who may ingest them
    "pages.ask": SALES, "pages.draft": SALES, "pages.draft_feedback": SALES,
    "pages.confirm_draft_item": SALES,  # a rep saying "this is the right item" for their draft links it
    "pages.roadmap": VIEWER,
    "pages.reports": VIEWER, "pages.report": VIEWER, "pages.report_file": VIEWER, "pages.report_markdown": VIEWER,
    "pages.build_report": PM,
    "pages.job": PM,  # the progress of a theme run, report, large paste or erasure: those who may start them
    # notes
    "notes.post_notes": PM, "notes.get_notes": PM, "notes.get_note": PM, "notes.delete_note": PM,
    "notes.get_stats": VIEWER,
    "notes.merge_accounts": PM,  # one customer's two names made one: curation, as merging themes
    # themes
    "themes.list_themes": VIEWER, "themes.get_theme": VIEWER, "themes.post_run": PM,
    "themes.post_summarize": PM,  # it can store the pasted text
    "themes.rename_theme": PM, "themes.merge_theme": PM, "themes.hide_theme": PM, "themes.move_statements": PM,
    # roadmap and match
    "roadmap.list_items": VIEWER, "roadmap.get_item": VIEWER, "roadmap.get_coverage": VIEWER,
    "roadmap.get_scores": VIEWER, "roadmap.post_items": PM, "roadmap.post_link": PM, "roadmap.post_match": SALES,
    "roadmap.delete_link": PM,
    # a rep saying "not the right item" for a draft, as the draft page's No (pages.confirm_draft_item)
    "roadmap.post_rejection": SALES, "roadmap.delete_rejection": SALES,
    # drafts (they quote customers)
    "drafts.post_draft": SALES, "drafts.get_drafts": SALES, "drafts.get_one": SALES, "drafts.post_feedback": SALES,
    # follow-ups and account briefs (issue 17): sales and above; they quote customers
    "followups.get_history": VIEWER, "followups.get_followups": SALES, "followups.post_told": SALES,
    "followups.post_not_asking": SALES, "followups.delete_not_asking": SALES, "closeloop.followup_not_asking": SALES,
    "followups.get_brief": SALES,
    "closeloop.followups": SALES, "closeloop.followup_told": SALES, "closeloop.brief": SALES,
    "followups.delete_told": SALES, "closeloop.followup_untold": SALES,
    # the accounts page: every customer's name and note count, and merging two names of one customer (as the API's)
    "closeloop.accounts": PM, "closeloop.merge_accounts": PM,
    # background jobs (ingests, theme runs, reports): those who may start them
    "jobs.get_one": PM, "jobs.get_many": PM,
    # administration
    "admin.erase": ADMIN, "admin.delete_one_draft": ADMIN, "admin.delete_one_report": ADMIN, "admin.audit_log": ADMIN,
    # reports
    "reports.list_all": VIEWER, "reports.get_one": VIEWER, "reports.create": PM,
    # search (API and page): any statement of any account, verbatim and filterable by account, as a rep's drafts,
    # follow-ups and briefs quote them (SALES); a viewer sees only the quotes a theme page picked, a PM the notes
    "search.get_search": SALES, "search_pages.search": SALES,
}


def allows(role: str | None, endpoint: str | None) -> bool:
    required = REQUIRED_ROLE.get(endpoint or "")
    if role not in ROLES or required is None:
        return False
    return ROLES.index(role) >= ROLES.index(required)


def roles_allowed(endpoint: str | None) -> list[str]:
    """The roles that may call an endpoint, lowest first ([] for one missing from the table: refused to everyone)."""
    required = REQUIRED_ROLE.get(endpoint or "")
    return [] if required is None else list(ROLES[ROLES.index(required):])


def refusal(role: str | None, endpoint: str | None, action: str) -> str:
    """Why a role is refused `action` (such as "POST /api/v1/themes/3/merge"), naming the roles that may do it: a
    refused caller learns whom to ask rather than only that the answer is no."""
    allowed = roles_allowed(endpoint)
    if not allowed:
        return f"no role may {action}: the route is missing from the authorization table (service/auth/policy.py)"
    needs = f"the role {allowed[0]!r}" + (f" or one above it ({', '.join(allowed[1:])})" if len(allowed) > 1 else "")
    return f"the role {role!r} may not {action}: that takes {needs}"
