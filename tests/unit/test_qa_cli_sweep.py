"""Regressions from a sweep of every `feedback` command as a scripting user runs it: an empty value (an unset shell
variable), a folder given where a file is read, an empty home under --json, and a sign-in link's --base-url. Each test
names the problem it keeps fixed."""
from __future__ import annotations

import json

import pytest

NOTE = "Exports keep timing out on our biggest accounts."


def _notes_total(run_cli) -> int:
    return json.loads(run_cli("notes", "list", "--json").stdout)["total"]


# 1. an empty path ingested the current folder ------------------------------------------------------------------------
def test_an_empty_path_is_a_usage_error_not_the_current_folder(run_cli, tmp_path, monkeypatch):
    (tmp_path / "call.txt").write_text(NOTE)
    monkeypatch.chdir(tmp_path)  # `feedback ingest "$FILE"` with FILE unset, run where notes happen to lie
    for args in (("ingest", ""), ("ingest", "call.txt", " ")):
        result = run_cli(*args)
        assert result.exit_code == 2, result.output
        assert "Invalid value for 'PATHS...': it is empty" in result.stderr and result.stdout == ""
    assert _notes_total(run_cli) == 0  # it stored call.txt (and every other note file below the folder), exit 0


# 2. an empty value for an option was taken as no option at all ------------------------------------------------------
@pytest.mark.parametrize("args, option", [
    (("match", "--file", ""), "--file"),  # was "error: TypeError: object of type 'NoneType' has no len()"
    (("draft", "--file", ""), "--file"),  # was "question is required", about an argument not given
    (("roadmap", "import", ""), "FILE"),  # was "error: : cannot read the file: Is a directory"
    (("notes", "list", "--since", ""), "--since"),  # these listed or clustered everything, exit 0
    (("notes", "list", "--until", " "), "--until"),
    (("notes", "list", "--account", ""), "--account"),
    (("drafts", "list", "--account", ""), "--account"),
    (("themes", "run", "--since", ""), "--since"),
    (("themes", "run", "--account", ""), "--account"),
    (("brief", "Acme", "--since", ""), "--since"),
    (("followups", "RM-1", "--since", ""), "--since"),
    (("audit", "--action", ""), "--action"),
    (("notes", "show", ""), "NOTE_ID"),  # these were "no note with id ''", exit 1, as if a note could be named so
    (("notes", "delete", " "), "NOTE_ID"),
    (("roadmap", "show", ""), "ITEM_ID"),
    (("roadmap", "history", ""), "ITEM_ID"),
    (("roadmap", "link", "", "--theme", "1"), "ITEM_ID"),
    (("roadmap", "link", "RM-1", "--note", ""), "--note"),
    (("roadmap", "reject", "", "--draft", "1"), "ITEM_ID"),
    (("followups", ""), "ITEM_ID"),
    (("accounts", "erase", "", "--yes"), "NAME"),  # `brief ""` was already a usage error
])
def test_an_empty_value_is_a_usage_error_naming_the_option(run_cli, args, option):
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}': it is empty" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_an_empty_edited_file_or_out_file_stores_nothing(run_cli, tmp_path):
    assert run_cli("draft", "Can we export a million rows?", "--no-llm").exit_code == 0
    rated = run_cli("drafts", "rate", "1", "--up", "--edited", "")  # was "recorded up for draft 1", without the text
    assert rated.exit_code == 2 and "Invalid value for '--edited': it is empty" in rated.stderr
    assert json.loads(run_cli("drafts", "show", "1", "--json").stdout)["feedback"] == []
    report = run_cli("report", "--out", "")  # was a report stored and printed to stdout, exit 0
    assert report.exit_code == 2 and "Invalid value for '--out': it is empty" in report.stderr
    assert json.loads(run_cli("reports", "list", "--json").stdout)["total"] == 0
    assert run_cli("report", "--format", "json").exit_code == 0
    shown = run_cli("reports", "show", "1", "--out", "")
    assert shown.exit_code == 2 and "Invalid value for '--out': it is empty" in shown.stderr and shown.stdout == ""


# 3. a folder where a file is read: one exit code, whichever command ------------------------------------------------
@pytest.mark.parametrize("args", [
    ("roadmap", "import", "{folder}"),  # these two were usage errors (2), match and drafts rate a failure (1)
    ("draft", "--file", "{folder}"),
    ("match", "--file", "{folder}"),
    ("drafts", "rate", "1", "--up", "--edited", "{folder}"),
])
def test_a_folder_given_as_an_input_file_exits_1_naming_it(run_cli, tmp_path, args):
    folder = tmp_path / "exports"
    folder.mkdir()
    result = run_cli(*(a.format(folder=folder) for a in args))
    assert result.exit_code == 1, result.output  # as a missing file (test_cli_missing_files.py)
    assert "exports" in result.stderr and "Is a directory" in result.stderr and "Traceback" not in result.output


# 4. `themes list --json` on a home without a run ---------------------------------------------------------------------
def test_themes_list_before_any_run_is_an_empty_answer_as_the_api_gives_it(run_cli, client):
    listed = run_cli("themes", "list", "--json")  # was exit 1 and "error: no theme run yet" with nothing on stdout
    assert listed.exit_code == 0, listed.output
    api = client.get("/api/v1/themes")
    assert api.status_code == 200 and json.loads(listed.stdout) == api.get_json()
    assert json.loads(listed.stdout)["themes"] == []
    text = run_cli("themes", "list")
    assert text.exit_code == 0 and "no theme run yet" in text.stdout
    assert run_cli("themes", "list", "--json", "--status", "emerging").exit_code == 0


# 5. --base-url of a sign-in link ------------------------------------------------------------------------------------
@pytest.mark.parametrize("base_url", ["", "notaurl", "ftp://files.example.com", "http://[::1", "https://"])
def test_a_base_url_that_is_no_web_address_is_a_usage_error_before_the_user_is_added(run_cli, base_url):
    added = run_cli("users", "add", "rep@example.com", "--role", "sales", "--base-url", base_url)
    assert added.exit_code == 2, added.output  # was exit 0 with "notaurl/sign-in/CODE", the user stored
    assert "Invalid value for '--base-url'" in added.stderr and "sign-in" not in added.stdout
    assert json.loads(run_cli("users", "list", "--json").stdout)["users"] == []
    assert run_cli("users", "add", "rep@example.com", "--role", "sales").exit_code == 0
    link = run_cli("users", "link", "rep@example.com", "--base-url", base_url)
    assert link.exit_code == 2 and link.stdout == ""


def test_a_base_url_with_a_path_is_kept(run_cli):
    assert run_cli("users", "add", "rep@example.com", "--role", "sales").exit_code == 0
    link = run_cli("users", "link", "rep@example.com", "--base-url", "https://fb.example.com/app/")
    assert link.exit_code == 0 and link.stdout.startswith("https://fb.example.com/app/sign-in/")


def test_every_json_flag_says_what_it_prints():
    from service.cli import cli

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, path + (name,))
            else:
                yield path + (name,), command

    silent = [" ".join(path) for path, command in walk(cli, ()) for p in command.params
              if "--json" in getattr(p, "opts", ()) and not p.help]
    assert silent == []  # `accounts erase -h` listed a bare "--json"


# 6. `demo --json` and `ingest --json` give a field one type -----------------------------------------------------------
def test_the_demo_summary_uses_the_ingest_fields_with_their_types(run_cli):
    from service.cli.demo import SAMPLE_DIR

    demo = run_cli("demo", "--no-serve", "--json")
    assert demo.exit_code == 0, demo.output
    summary = json.loads(demo.stdout)["ingest"]  # "note_ids": 257 here, a list of note ids from `ingest --json`
    again = json.loads(run_cli("ingest", str(SAMPLE_DIR / "notes.jsonl"), "--json").stdout)
    assert summary and set(summary) <= set(again)
    assert {k: type(v).__name__ for k, v in summary.items()} == {k: type(again[k]).__name__ for k in summary}
