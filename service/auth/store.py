"""Users, API tokens and one-time sign-in codes: created, listed, disabled or revoked, and checked.

Secrets are 256 random bits shown once; only their SHA-256 is stored, so a copy of the database signs no one in.
A user's sessions are valid while the generation they stored at sign-in is the user's current one: end_sessions
(sign-out, disabling) raises it, ending every copy of every session cookie of that user.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ..ingest.validate import text_problem
from ..models import ROLES, ApiToken, SignInCode, User, utcnow

TOKEN_PREFIX = "fbk_"
SIGN_IN_MINUTES = 15
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
LINE_BREAK = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]")


class AuthError(ValueError):
    """Bad input to an auth command: the message names what is wrong."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user ("user:ID") or an API token ("token:ID")."""

    kind: str
    id: int
    name: str
    role: str
    generation: int = 0  # a user's session generation when loaded (stored in the session at sign-in); 0 for tokens

    # Flask-Login's user interface
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def check_label(value: str, what: str) -> str:
    """An email or token name is one line of printable text: it is shown in lists and the audit log's lines, where a
    control character or line break could forge or hide an entry."""
    problem = text_problem(value, what)
    if problem is None and (found := LINE_BREAK.search(value)):
        problem = f"{what} contains a line break or tab U+{ord(found.group()):04X} (character {found.start() + 1})"
    # Invisible format characters (Unicode category Cf): a bidi override such as U+202E turns the rest of a list or
    # audit line around, so "token:ci<U+202E>..." could show as another name; zero-width ones make look-alikes.
    invisible = next(((i, c) for i, c in enumerate(value) if unicodedata.category(c) == "Cf"), None)
    if problem is None and invisible:
        problem = (f"{what} contains the invisible format character U+{ord(invisible[1]):04X} "
                   f"(character {invisible[0] + 1})")
    if problem:
        raise AuthError(problem)
    return value


def add_user(db, email: str, role: str) -> User:
    email = (email or "").strip().lower()
    if not EMAIL.match(email):
        raise AuthError(f"{email!r} is not an email address")
    check_label(email, "the email address")
    check_role(role)
    with db.transaction() as session:
        if session.scalar(select(User).where(User.email == email)) is not None:
            raise AuthError(f"a user {email} already exists")
        user = User(email=email, role=role)
        session.add(user)
        session.flush()
        return user


def list_users(db) -> list[User]:
    with db.session() as session:
        return list(session.scalars(select(User).order_by(User.id)))


def set_role(db, email: str, role: str) -> tuple[User, str]:
    """Give a user another role, at once: every request reads the role from the database. Returns the user and the
    role it had. Without it a PM moving to sales kept PM rights, or was disabled and re-added under another address
    (`users add` refuses an existing one)."""
    check_role(role)
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
        if user is None:
            raise AuthError(f"no user {email}")
        if user.role == role:  # nothing changes: no entry in the audit log
            raise AuthError(f"user {user.email} is already {role}")
        before, user.role = user.role, role
        return user, before


def set_disabled(db, email: str, disabled: bool = True) -> User:
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
        if user is None:
            raise AuthError(f"no user {email}")
        if user.disabled == disabled:  # nothing changes: no second entry in the audit log
            raise AuthError(f"user {user.email} is already {'disabled' if disabled else 'enabled'}")
        user.disabled = disabled
        if disabled:  # its sessions and unused links end now, and re-enabling the user must not bring them back
            _raise_generation(session, user.id)
            _expire_links(session, user.id)
        return user


def _expire_links(session, user_id: int) -> None:
    """Unused sign-in links of this user stop working now: an admin who disables a user or signs them out (a lost
    laptop) means the link still waiting in that laptop's mail too."""
    now = utcnow()
    session.execute(update(SignInCode)
                    .where(SignInCode.user_id == user_id, SignInCode.used_at.is_(None), SignInCode.expires_at >= now)
                    .values(expires_at=now - timedelta(seconds=1))  # already past, even for a coarse clock
                    .execution_options(synchronize_session=False))


def _raise_generation(session, user_id: int) -> None:
    # In SQL (generation + 1), not read-then-write: two sign-outs at once must both end the sessions they saw.
    session.execute(update(User).where(User.id == user_id)
                    .values(session_generation=User.session_generation + 1)
                    .execution_options(synchronize_session=False))


def end_sessions(db, user_id: int) -> None:
    """Sign this user out on every device: every session stored before now carries a stale generation."""
    with db.transaction() as session:
        _raise_generation(session, user_id)


def end_sessions_by_email(db, email: str) -> User:
    """end_sessions for an admin who names the user (`feedback users sign-out EMAIL`), and their unused links."""
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
        if user is None:
            raise AuthError(f"no user {email}")
        _raise_generation(session, user.id)
        _expire_links(session, user.id)
        return user


MAX_TOKEN_DAYS = 3650


def create_token(db, name: str, role: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token; with expires_in_days it stops working that many days from now (a CI job's token need not live
    forever), else it works until revoked."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise AuthError("a token needs a name of 1 to 200 characters")
    check_label(name, "the token name")
    check_role(role)
    if expires_in_days is not None and not (isinstance(expires_in_days, int)
                                            and 1 <= expires_in_days <= MAX_TOKEN_DAYS):
        raise AuthError(f"a token expires in 1 to {MAX_TOKEN_DAYS} days, not {expires_in_days!r}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with db.transaction() as session:
        row = ApiToken(name=name, role=role, token_hash=digest(secret), prefix=secret[:10], expires_at=expires)
        session.add(row)
        session.flush()
        return row, secret


def list_tokens(db) -> list[ApiToken]:
    with db.session() as session:
        return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(db, token_id: int) -> ApiToken:
    with db.transaction() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise AuthError(f"no token with id {token_id}")
        if row.revoked_at is not None:  # nothing changes: no second entry in the audit log
            raise AuthError(f"token {row.id} ({row.name}) was already revoked at "
                            f"{row.revoked_at.isoformat(timespec='seconds')}Z")
        row.revoked_at = utcnow()
        return row


def token_is_valid(db, secret: str) -> bool:
    """Is this a stored, unrevoked token? A read only (no last-used write): the rate limiter asks before auth."""
    if not secret or len(secret) > 200:
        return False
    with db.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret),
                                                   ApiToken.revoked_at.is_(None)))
        return row is not None and not _expired(row)


def _expired(row: ApiToken) -> bool:
    return row.expires_at is not None and utcnow() >= row.expires_at


def token_principal(db, secret: str) -> Principal | None:
    if not secret or len(secret) > 200:
        return None
    with db.transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
        if row is None or row.revoked_at is not None or _expired(row):
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            row.last_used_at = now  # at most one write a minute per token
        return Principal("token", row.id, row.name, row.role)


def _user_as_principal(user: User) -> Principal:
    return Principal("user", user.id, user.email, user.role, user.session_generation)


def user_principal(db, user_id: int, generation: int) -> Principal | None:
    """The user of a session that stored this generation at sign-in; None once disabled or signed out since."""
    with db.session() as session:
        user = session.get(User, user_id)
        if user is None or user.disabled or generation != user.session_generation:
            return None
        return _user_as_principal(user)


def load_principal(db, ident: str, generation: int) -> Principal | None:
    """The inverse of Principal.get_id (Flask-Login's user loader) for a session holding this generation; a revoked
    token, a disabled user or a user signed out since the session began is None."""
    kind, _, raw = (ident or "").partition(":")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    if kind == "user":
        return user_principal(db, int(raw), generation)
    if kind == "token":
        with db.session() as session:
            row = session.get(ApiToken, int(raw))
            if row is None or row.revoked_at is not None or _expired(row):
                return None
            return Principal("token", row.id, row.name, row.role)
    return None


def create_sign_in_code(db, email: str) -> str:
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
        if user is None:
            raise AuthError(f"no user {email}")
        if user.disabled:
            raise AuthError(f"user {email} is disabled")
        code = secrets.token_urlsafe(32)
        session.add(SignInCode(user_id=user.id, code_hash=digest(code),
                               expires_at=utcnow() + timedelta(minutes=SIGN_IN_MINUTES)))
        return code


def redeem_sign_in_code(db, code: str) -> Principal | None:
    """The user of an unused, unexpired code, marking it used (a second use signs no one in)."""
    if not code or len(code) > 200:
        return None
    now = utcnow()
    with db.transaction() as session:
        # One statement checks and marks the code, so two requests racing with it cannot both sign in.
        user_id = session.scalar(
            update(SignInCode)
            .where(SignInCode.code_hash == digest(code), SignInCode.used_at.is_(None), SignInCode.expires_at >= now)
            .values(used_at=now).returning(SignInCode.user_id))
        if user_id is None:
            return None
        user = session.get(User, user_id)
        if user is None or user.disabled:
            return None
        return _user_as_principal(user)


@dataclass(frozen=True)
class CodeCheck:
    """What a one-time code would do, without using it: whom it signs in, or why it signs no one in."""

    principal: Principal | None
    problem: str | None = None  # ends a sentence that starts "That sign-in link "
    expires_at: datetime | None = None


def check_sign_in_code(db, code: str) -> CodeCheck:
    """A read only: the link's confirmation page shows it, and a refused redemption explains itself with it."""
    if not code or len(code) > 200:
        return CodeCheck(None, "is not valid: it holds no sign-in code (was the whole link copied?)")
    with db.session() as session:
        row = session.scalar(select(SignInCode).where(SignInCode.code_hash == digest(code)))
        if row is None:
            return CodeCheck(None, "is not valid: no such sign-in code (was the whole link copied?)")
        user = session.get(User, row.user_id)
        if user is None or user.disabled:  # first: redeeming marks such a code used, and this is the reason
            return CodeCheck(None, "belongs to a disabled user")
        if row.used_at is not None:
            return CodeCheck(None, f"was already used, at {_utc(row.used_at)}; each link signs in once")
        if row.expires_at < utcnow():
            return CodeCheck(None, f"expired at {_utc(row.expires_at)} (links last {SIGN_IN_MINUTES} minutes)")
        return CodeCheck(_user_as_principal(user), None, row.expires_at)


def _utc(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def ensure_user(db, email: str, role: str) -> User:
    """The user with this email, created with role if missing (feedback demo's admin)."""
    with db.session() as session:
        user = session.scalar(select(User).where(User.email == email))
    return user or add_user(db, email, role)
