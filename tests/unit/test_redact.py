"""PII redaction: phones by shape (not dates, money, versions), emails, known names; stable placeholders; restore."""
from __future__ import annotations

import pytest

from service.redact import Redactor


@pytest.mark.parametrize("phone", [
    "+1 415-555-0142", "(212) 555-0199", "415.555.0142", "+44 20 7946 0958", "415-555-0142", "415 555 0142",
    "+1 (415) 555-0142", "1-800-555-0199", "+14155550142", "+49 30 123456", "(212)555-0199",
])
def test_phone_formats_are_redacted(phone):
    out = Redactor().redact(f"Call me at {phone}, thanks.")
    assert out == "Call me at [PHONE_1], thanks."


@pytest.mark.parametrize("text", [
    "Renewal is on 2026-11-27 and the QBR on 11/27/2026.",
    "They run version 2.13.0 (build 10.2.3.4567) since 2026.11.27.",
    "ARR is $1,200,000, expanding to 1.2M ARR; ARR 450000; budget 12 500 000 EUR.",
    "Ticket 555-0142 and growth +15% over 2025-2026; ip 192.168.100.1.",
    "Dates like 2026-11-27T10:00:00Z stay.",
])
def test_dates_money_versions_and_figures_are_left_alone(text):
    assert Redactor().redact(text) == text


def test_emails_and_phone_next_to_date():
    r = Redactor()
    out = r.redact("Mail Jane.Doe+crm@acme.co.uk or ops@acme.io on 2026-11-27 415-555-0142.")
    assert out == "Mail [EMAIL_1] or [EMAIL_2] on 2026-11-27 [PHONE_1]."
    assert r.mapping == {"[EMAIL_1]": "Jane.Doe+crm@acme.co.uk", "[EMAIL_2]": "ops@acme.io", "[PHONE_1]": "415-555-0142"}


def test_same_value_same_placeholder_across_calls_and_formats():
    r = Redactor()
    a = r.redact("jane@acme.io, +1 415-555-0142")
    b = r.redact("JANE@ACME.IO called from 415.555.0142 and (212) 555-0199")
    assert a == "[EMAIL_1], [PHONE_1]"
    assert b == "[EMAIL_1] called from [PHONE_1] and [PHONE_2]"
    assert r.mapping["[PHONE_1]"] == "+1 415-555-0142"  # the first spelling seen is what restore() gives back


def test_names_full_first_last_case_insensitive_and_word_bounded():
    r = Redactor(["Maria Elena Gomez", "Bob Smith", "Jean-Luc Picard", "Miles O'Brien"])
    out = r.redact("maria elena GOMEZ met Maria Gomez and Ms. Gomez; Bob Smith's team; bob smithers; "
                   "jean-luc picard, Miles O'Brien; Maria alone; Gomezville")
    assert out == ("[NAME_1] met [NAME_1] and [NAME_1]; [NAME_2]'s team; bob smithers; "
                   "[NAME_3], [NAME_4]; Maria alone; Gomezville")
    assert r.mapping["[NAME_1]"] == "Maria Elena Gomez"


def test_single_word_name_matches_its_case_only():
    # "Mark" as a contact must not turn "mark as done" into a placeholder.
    assert Redactor(["Mark"]).redact("Mark asked to mark as done") == "[NAME_1] asked to mark as done"


def test_name_inside_email_is_redacted_as_one_email():
    r = Redactor(["Jane Doe"])
    assert r.redact("Jane Doe <jane.doe@acme.io>") == "[NAME_1] <[EMAIL_1]>"


def test_restore_only_allowed_placeholders():
    r = Redactor(["Jane Doe"])
    sent = r.redact("Jane Doe (jane@acme.io, 415-555-0142) asked; also bob@other.io")
    asker = r.placeholder_for("jane@acme.io")
    assert asker == "[EMAIL_1]" and r.placeholder_for("nobody@x.io") is None
    reply = f"Thanks {r.placeholder_for('jane doe')}, we will write to {asker}; cc [EMAIL_2], call [PHONE_1], see [EMAIL_9]"
    assert r.restore(reply, {asker}) == ("Thanks [name removed], we will write to jane@acme.io; cc [email removed], "
                                         "call [phone removed], see [email removed]")
    assert r.restore(reply) == ("Thanks [name removed], we will write to [email removed]; cc [email removed], "
                                "call [phone removed], see [email removed]")
    assert "[NAME_1]" in sent and r.restore("[NAME_1]", {"[NAME_1]"}) == "Jane Doe"


def test_redact_obj_recurses_and_keeps_keys_and_non_strings():
    r = Redactor(["Jane Doe"])
    obj = {"note": "Jane Doe: jane@acme.io", "n": 3, "items": [{"quote": "call 415-555-0142"}, None], "pair": ("a@b.io", 1.5),
           "jane@acme.io": "key stays"}
    assert r.redact_obj(obj) == {"note": "[NAME_1]: [EMAIL_1]", "n": 3, "items": [{"quote": "call [PHONE_1]"}, None],
                                 "pair": ("[EMAIL_2]", 1.5), "jane@acme.io": "key stays"}


def test_placeholders_and_empty_text_are_stable():
    r = Redactor()
    assert r.redact("") == ""
    once = r.redact("a@b.io")
    assert r.redact(once) == once == "[EMAIL_1]"
