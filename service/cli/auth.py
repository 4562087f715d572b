"""feedback users add|list|role|disable|enable|sign-out|link, tokens create|list|revoke, audit: who may do what, and
what was done."""
from __future__ import annotations

import click

from ..auth.audit import cli_actor, entries, record
from ..auth.store import (MAX_TOKEN_DAYS, AuthError, add_user, create_sign_in_code, create_token,
                          end_sessions_by_email, list_tokens, list_users, revoke_token, set_disabled, set_role)
from ..models import ROLES, utcnow
from .common import ROW_ID, emit_json, fail, pass_ctx, refuse_empty

ROLE = click.Choice(ROLES)


def register(cli: click.Group) -> None:
    cli.add_command(users)
    cli.add_command(tokens)
    cli.add_command(audit)


def _sign_in_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/sign-in/{code}"


def _check_base_url(ctx, param, value: str) -> str:
    """--base-url is where the pages are: an http(s) address with a host. "", "notaurl" or "ftp://x" printed a link
    no browser opens, with exit code 0, after the user and the one-time code were stored."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.query or parts.fragment)
    except ValueError:  # a malformed port or IPv6 address
        ok = False
    if not ok:
        raise click.BadParameter(
            f"{value!r} is not an http:// or https:// address such as https://feedback.example.com", ctx, param)
    return value.strip()


@click.group()
def users():
    """People who sign in to the pages: add, list, role, disable, enable, sign-out (on every device), link (a one-time
    sign-in link)."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=ROLE, required=True, help="What they may do (docs/security.md lists each role).")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True, callback=_check_base_url,
              help="Where the pages are served.")
@click.option("--json", "as_json", is_flag=True, help="Print the user and the sign-in link as JSON.")
@pass_ctx
def users_add(ctx, email, role, base_url, as_json):
    """Add a user and print a one-time sign-in link (valid 15 minutes; `feedback users link` makes another)."""
    db = ctx.services.db
    try:
        user = add_user(db, email, role)
        url = _sign_in_url(base_url, create_sign_in_code(db, user.email))
    except AuthError as exc:
        fail(str(exc))
    record(db, cli_actor(), "user_add", user.email, {"role": role})
    if as_json:
        emit_json({"id": user.id, "email": user.email, "role": user.role, "sign_in_url": url})
    else:
        click.echo(f"user {user.email} ({user.role}) added; one-time sign-in link (15 minutes):\n  {url}")


@users.command("link")
@click.argument("email")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True, callback=_check_base_url,
              help="Where the pages are served.")
@pass_ctx
def users_link(ctx, email, base_url):
    """Print a new one-time sign-in link for a user."""
    db = ctx.services.db
    try:
        url = _sign_in_url(base_url, create_sign_in_code(db, email))
    except AuthError as exc:
        fail(str(exc))
    # whoever runs this can sign in as that user: the log says who made the link, not only who then signed in
    record(db, cli_actor(), "user_link", (email or "").strip().lower())
    click.echo(url)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help='Print {"users": [...]} as JSON.')
@pass_ctx
def users_list(ctx, as_json):
    """The users, their roles and whether they are disabled."""
    rows = [{"id": u.id, "email": u.email, "role": u.role, "disabled": u.disabled,
             "created_at": u.created_at.isoformat(timespec="seconds")} for u in list_users(ctx.services.db)]
    if as_json:
        emit_json({"users": rows})
        return
    for r in rows:
        click.echo(f"{r['id']:>4}  {r['email']}  {r['role']}{'  (disabled)' if r['disabled'] else ''}")
    if not rows:
        click.echo("no users yet: feedback users add EMAIL --role ROLE")


@users.command("disable")
@click.argument("email")
@pass_ctx
def users_disable(ctx, email):
    """Disable a user: their sessions and unused sign-in links stop working at once (and stay ended if the user is
    enabled again)."""
    try:
        user = set_disabled(ctx.services.db, email, True)
    except AuthError as exc:
        fail(str(exc))
    record(ctx.services.db, cli_actor(), "user_disable", user.email)
    click.echo(f"user {user.email} disabled")


@users.command("role")
@click.argument("email")
@click.argument("role", type=ROLE)
@pass_ctx
def users_role(ctx, email, role):
    """Give a user another role (viewer, sales, pm, admin); it applies to their next request, sessions included."""
    try:
        user, before = set_role(ctx.services.db, email, role)
    except AuthError as exc:
        fail(str(exc))
    record(ctx.services.db, cli_actor(), "user_role", user.email, {"from": before, "to": role})
    click.echo(f"user {user.email} is now {role} (was {before})")


@users.command("enable")
@click.argument("email")
@pass_ctx
def users_enable(ctx, email):
    """Enable a disabled user again: they sign in with a new link (`feedback users link`); old sessions stay ended."""
    # Without it a user disabled by mistake could only be re-added under another address: `users add` refuses theirs.
    try:
        user = set_disabled(ctx.services.db, email, False)
    except AuthError as exc:
        fail(str(exc))
    record(ctx.services.db, cli_actor(), "user_enable", user.email)
    click.echo(f"user {user.email} enabled; `feedback users link {user.email}` makes a sign-in link")


@users.command("sign-out")
@click.argument("email")
@pass_ctx
def users_sign_out(ctx, email):
    """Sign a user out on every device (a lost laptop, a shared browser) and end their unused sign-in links; they can
    sign in again with a new link."""
    try:
        user = end_sessions_by_email(ctx.services.db, email)
    except AuthError as exc:
        fail(str(exc))
    record(ctx.services.db, cli_actor(), "user_sign_out", user.email)
    click.echo(f"user {user.email} signed out on every device")


@click.group()
def tokens():
    """API tokens (Authorization: Bearer TOKEN): create, list, revoke."""


@tokens.command("create")
@click.option("--name", required=True, help="What the token is for (shown in lists and the audit log).")
@click.option("--role", type=ROLE, required=True, help="What the token may do (docs/security.md lists each role).")
@click.option("--expires-in", "days", type=click.IntRange(1, MAX_TOKEN_DAYS), metavar="DAYS",
              help="The token stops working after this many days (default: when revoked).")
@click.option("--json", "as_json", is_flag=True, help="Print the token (shown once) and its id, name and role as JSON.")
@pass_ctx
def tokens_create(ctx, name, role, days, as_json):
    """Create a token and print it once: only its hash is stored."""
    try:
        row, secret = create_token(ctx.services.db, name, role, expires_in_days=days)
    except AuthError as exc:
        fail(str(exc))
    expires = _when(row.expires_at)
    record(ctx.services.db, cli_actor(), "token_create", f"token={row.id}",
           {"name": row.name, "role": role} | ({"expires_at": expires} if expires else {}))
    if as_json:
        emit_json({"id": row.id, "name": row.name, "role": row.role, "expires_at": expires, "token": secret})
    else:
        click.echo(secret)
        click.echo(f"token {row.id} ({row.name}, {row.role}{f', expires {expires}Z' if expires else ''}): shown once, "
                   "store it now", err=True)


def _when(at) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help='Print {"tokens": [...]} as JSON.')
@pass_ctx
def tokens_list(ctx, as_json):
    """The tokens by id, name and role, with their first characters (never the whole token)."""
    now = utcnow()
    rows = [{"id": t.id, "name": t.name, "role": t.role, "prefix": t.prefix, "created_at": _when(t.created_at),
             "last_used_at": _when(t.last_used_at), "revoked": t.revoked_at is not None,
             "expires_at": _when(t.expires_at), "expired": t.expires_at is not None and now >= t.expires_at}
            for t in list_tokens(ctx.services.db)]
    if as_json:
        emit_json({"tokens": rows})
        return
    for r in rows:
        state = ("  (revoked)" if r["revoked"] else f"  (expired {r['expires_at']}Z)" if r["expired"]
                 else f"  (expires {r['expires_at']}Z)" if r["expires_at"] else "")
        click.echo(f"{r['id']:>4}  {r['prefix']}…  {r['name']}  {r['role']}{state}")
    if not rows:
        click.echo("no tokens yet: feedback tokens create --name NAME --role ROLE")


@tokens.command("revoke")
@click.argument("token_id", type=ROW_ID)
@pass_ctx
def tokens_revoke(ctx, token_id):
    """Revoke a token by its id (`feedback tokens list`): it stops working at once."""
    try:
        row = revoke_token(ctx.services.db, token_id)
    except AuthError as exc:
        fail(str(exc))
    record(ctx.services.db, cli_actor(), "token_revoke", f"token={row.id}", {"name": row.name})
    click.echo(f"token {row.id} ({row.name}) revoked")


@click.command()
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000),
              help="Show at most this many entries.")
@click.option("--action", callback=refuse_empty("an action such as ingest"),
              help="Only this action (ingest, note_delete, account_erase, roadmap_import, ...).")
@click.option("--json", "as_json", is_flag=True, help='Print {"entries": [...]} as JSON.')
@pass_ctx
def audit(ctx, limit, action, as_json):
    """The audit log, newest first: who did what, when."""
    rows = entries(ctx.services.db, limit=limit, action=action)
    if as_json:
        emit_json({"entries": rows})
        return
    for r in rows:
        click.echo(f"{r['at']}  {r['actor']}  {r['action']}  {r['target'] or ''}")
    if not rows:
        click.echo(f"no entries for action {action!r}" if action else "the audit log is empty")
