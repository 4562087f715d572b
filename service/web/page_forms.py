"""Forms for the themes, ask, roadmap, reports and accounts pages (Flask-WTF: CSRF token included when CSRF is
enabled)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, RadioField, SelectField, SelectMultipleField, StringField,
                     SubmitField, TextAreaField)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, ValidationError

from ..models.notes import SOURCE_KINDS
from ..models.reports import DEFAULT_PERIOD, PERIODS
from .forms import SOURCE_LABELS, IsoDateField, _strip

MAX_QUESTION_CHARS = 4000
MAX_EDIT_CHARS = 20_000
PERIOD_LABELS = {"1d": "Last day", "7d": "Last 7 days", "30d": "Last 30 days"}


def no_nul(_form, field):
    """A NUL byte is refused (PostgreSQL text cannot store it), by name, instead of failing when saved."""
    if isinstance(field.data, str) and "\x00" in field.data:
        raise ValidationError("Remove the NUL character (\\0) from the text.")


class ThemeFilterForm(FlaskForm):
    """GET filters for /themes: no state changes, so no CSRF token (and shareable URLs)."""

    class Meta:
        csrf = False

    since = IsoDateField("From", validators=[Optional()], description="Themes seen on or after this day.")
    until = IsoDateField("To", validators=[Optional()], description="Themes seen on or before this day.")
    source = SelectField("Source", choices=[("", "Any source")] + [(k, SOURCE_LABELS.get(k, k)) for k in SOURCE_KINDS],
                         default="", validate_choice=True)
    account = StringField("Account", filters=[_strip], validators=[Optional(), Length(max=200)])
    submit = SubmitField("Filter")

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")


class RunThemesForm(FlaskForm):
    """POST: re-run themes on the notes of a window (or all notes when both dates are empty)."""

    since = IsoDateField("From", validators=[Optional()])
    until = IsoDateField("To", validators=[Optional()])
    submit = SubmitField("Run themes for this window")

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")


class AskForm(FlaskForm):
    question = TextAreaField(
        "Customer question",
        filters=[_strip],
        validators=[DataRequired("Type the customer's question."),
                    Length(max=MAX_QUESTION_CHARS, message=f"Use at most {MAX_QUESTION_CHARS:,} characters."), no_nul],
        description="What did the customer ask? For example: Can we export more than a million rows to Excel?",
    )
    account = StringField("Account", filters=[_strip], validators=[
        Optional(), Length(max=200, message="Use at most 200 characters for the account name."), no_nul],
        description="Optional: the customer, so the draft can cite their own notes first.")
    audience = SelectField("Audience", default="customer", validate_choice=True,
                           choices=[("customer", "Customer (send as is)"), ("internal", "Internal (for the team)")])
    submit = SubmitField("Draft an answer")


class FeedbackForm(FlaskForm):
    """Thumbs up/down, or the rep's own version of the answer (with how useful the draft was)."""

    # A form sent without a rating is refused rather than stored as the pre-selected "up".
    rating = RadioField("Was the draft useful?", choices=[("up", "Yes, useful"), ("down", "No, not useful")],
                        default="up", validators=[InputRequired("Choose up or down."),
                                                  AnyOf(("up", "down"), message="Choose up or down.")])
    edited_text = TextAreaField("Your version", validators=[
        Optional(), Length(max=MAX_EDIT_CHARS, message=f"Use at most {MAX_EDIT_CHARS:,} characters."), no_nul],
        description="Edit the draft into what you actually sent; it helps improve the drafts.")
    comment = StringField("Comment", filters=[_strip], validators=[
        Optional(), Length(max=2000, message="Use at most 2,000 characters."), no_nul])
    kind = HiddenField(default="edit", validators=[  # "thumb" forms send a rating only
        AnyOf(("thumb", "edit"), message='the form kind must be "thumb" or "edit"; reload the page')])
    submit = SubmitField("Save my version")


class ConfirmItemForm(FlaskForm):
    """"Is this the right item?" on a match shown to a person: yes stores a link, so the draft's question (or the
    theme's statements) become evidence the matcher learns from."""

    item_id = HiddenField(validators=[DataRequired(), Length(max=200)])
    answer = HiddenField(validators=[AnyOf(("yes", "no"), message="Answer yes or no.")])


class BuildReportForm(FlaskForm):
    period = SelectField("Period", choices=[(p, PERIOD_LABELS[p]) for p in PERIODS], default=DEFAULT_PERIOD,
                         validate_choice=True)
    deliver = BooleanField("Also post it to the configured webhook")  # shown only when one is configured
    submit = SubmitField("Build report now")


class MergeAccountsForm(FlaskForm):
    """POST from the accounts page: file every note of one account under another (service.accounts.merge), for one
    customer written two ways the account key does not join. No undo, so the box must be ticked."""

    source = StringField("Merge this account", filters=[_strip], validators=[
        DataRequired("Type the name of the account to merge, as listed above."),
        Length(max=200, message="Use at most 200 characters for the account name."), no_nul],
        description="Its notes, drafts and follow-up marks move to the other account; its name becomes an alias.")
    into = StringField("Into this account", filters=[_strip], validators=[
        DataRequired("Type the name of the account to keep, as listed above."),
        Length(max=200, message="Use at most 200 characters for the account name."), no_nul],
        description="The account that is kept, under its own name.")
    confirm = BooleanField("I understand that a merge cannot be undone", validators=[
        DataRequired("Tick this box to merge.")])
    submit = SubmitField("Merge accounts")


class ThemeEditForm(FlaskForm):
    """A PM's edit from the theme page: rename, merge into another theme, move statements, hide or show again.
    Who makes it comes from the signed-in user, never from the form."""

    action = HiddenField(validators=[AnyOf(("rename", "merge", "move", "hide", "unhide"), message="Unknown edit.")])
    label = StringField("New name", filters=[_strip], validators=[Optional(), Length(max=120)])
    into = SelectField("Merge into", coerce=str, choices=[], validate_choice=False)
    to = SelectField("Move the ticked statements to", coerce=str, choices=[], validate_choice=False)
    statement_ids = SelectMultipleField("Statements", coerce=str, choices=[], validate_choice=False)
