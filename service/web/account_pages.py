"""The accounts page (PM): every account with its notes, last note, the names merged into it and a link to its brief,
and a form to merge one customer's two names ("AWS" and "Amazon Web Services") that the account key does not join.

Routes of the "closeloop" blueprint (it serves the briefs), loaded by closeloop.init_app before the blueprint is
registered. The list is service.notes.list_accounts and the merge is service.accounts.merge, as for the CLI
(`feedback accounts list|merge`) and the API (POST /api/v1/accounts/merge); the audit entry is the API's:
account_merge with the two names' fingerprints, never the names.
"""
from __future__ import annotations

from flask import render_template, request, url_for
from sqlalchemy import select

from ..accounts import AccountError, merge
from ..auth import audit_this
from ..erase import fingerprint
from ..models import Account, AccountAlias
from ..notes import NotFound, list_accounts
from ..services import services
from .closeloop import NO_STORE, bp
from .page_data import BadPage, Pager, page_number
from .page_forms import MergeAccountsForm
from .pages import bad_page

ACCOUNT_LIST_PER_PAGE = 50  # as the themes page (page_data.ACCOUNTS_PER_PAGE is the follow-ups page's 20)
REFUSED = "Nothing was merged: please correct the form below."
# the field a merge's own refusal names ("from: no account named ..."): its message goes next to that input
FIELDS = {"from": "source", "into": "into"}
CLI_HINT = " (feedback accounts list)"  # service.accounts.no_such_account's hint when no name is near


@bp.get("/accounts")
def accounts():
    try:
        number = page_number(request.args.get("page"))
    except BadPage as exc:
        return bad_page(exc, (url_for("closeloop.accounts"), "Show the first page"))
    return _page(MergeAccountsForm(formdata=None), number=number)


@bp.post("/accounts/merge")
def merge_accounts():
    """The form's merge: the result on the page (200), or the page again with what is wrong, nothing changed (404 for
    a name no account has, with the one it probably means; 422 for an empty field, no tick, or one account twice)."""
    form = MergeAccountsForm()
    if not form.validate():
        return _page(form, 422, merge_error=REFUSED)
    try:
        result = merge(services(), form.source.data, form.into.data)
    except NotFound as exc:
        return _refused(form, 404, str(exc))
    except AccountError as exc:
        return _refused(form, 422, str(exc))
    audit_this(account=fingerprint(result["merged"]), into=fingerprint(result["into"]), notes=result["notes"])
    return _page(MergeAccountsForm(formdata=None), merged=result)


def _refused(form: MergeAccountsForm, status: int, message: str):
    """The merge's refusal next to the input it names ("from: ..." is the first), or, naming none (one account
    twice), next to the second: the account that would be kept."""
    prefix, _, rest = message.partition(": ")
    name, text = (FIELDS[prefix], rest) if prefix in FIELDS else ("into", message)
    text = text.replace(CLI_HINT, " (the names are listed on this page)")  # the CLI's own list is for the CLI
    form[name].errors = [*form[name].errors, text[:1].upper() + text[1:] + ("" if text.endswith("?") else ".")]
    return _page(form, status, merge_error=REFUSED)


def _page(form: MergeAccountsForm, status: int = 200, number: int = 1, **context):
    with services().db.session() as session:
        rows = list_accounts(session)
        pager = Pager(number, ACCOUNT_LIST_PER_PAGE, len(rows))
        shown = pager.rows(rows)
        aliases = _aliases(session, [r["name"] for r in shown])
    for row in shown:
        row["aliases"] = aliases.get(row["name"], [])
    return render_template("pages/accounts.html", accounts=shown, pager=pager, form=form, **context), status, NO_STORE


def _aliases(session, names: list[str]) -> dict[str, list[str]]:
    """Account name -> the names merged into it, oldest merge first (service.accounts.names_of, for a page at once)."""
    if not names:
        return {}
    found: dict[str, list[str]] = {}
    rows = session.execute(select(Account.name, AccountAlias.name)
                           .join(AccountAlias, AccountAlias.account_id == Account.id)
                           .where(Account.name.in_(names)).order_by(AccountAlias.id))
    for account, alias in rows:
        found.setdefault(account, []).append(alias)
    return found
