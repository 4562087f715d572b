"""Note files uploaded on the paste page (`/`, the form's file input) and to POST /api/v1/notes as multipart/form-data:
read as `feedback ingest` reads files (service.ingest.uploads -> store.load_bytes), the form's account, source and
date filling only what a note leaves out, atomic, within the request size limit, CSRF-checked and PM-only."""
from __future__ import annotations

import io

import pytest

from service.ingest.uploads import MAX_UPLOAD_FILES, upload_name
from tests.unit.test_ingest_documents import FRONT, make_docx, make_pdf

NOTES = "/api/v1/notes"
TXT = ("---\naccount: Acme Logistics\ndate: 2026-11-20\nsource: interview\n---\n"
       "The CSV export times out above 50k rows. We split it by hand every week.\n").encode()
CSV = ("id,account,date,text\n"
       "c-1,Globex,2026-11-18,SSO setup took two weeks and needed our IT team.\n"
       "c-2,,2026-11-19,Audit log export is missing the user's email address.\n").encode()


def _notes(client) -> dict[str, dict]:
    """Every stored note by its text's first words (the admin's API)."""
    items = client.get(f"{NOTES}?per_page=200").get_json()["items"]
    return {n["text"].split(".")[0]: n for n in items}


def _count(client) -> int:
    return client.get("/api/v1/stats").get_json()["notes"]


def _files(*named: tuple[str, bytes]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for name, data in named]


def _main(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main"): html.index("</main>")]


# ---- the page ---------------------------------------------------------------------------------------------------
def test_the_page_offers_a_multiple_file_input_for_the_ingest_formats(client):
    html = client.get("/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file"' in html and " multiple" in html
    assert 'accept=".txt,.md,.csv,.jsonl,.vtt,.srt,.docx,.pdf"' in html
    assert 'data-max-bytes="5242880"' in html  # the request size limit, for the page's own check before sending


def test_txt_csv_docx_and_pdf_are_stored_with_their_own_or_the_forms_account_and_date(client):
    docx = make_docx(["Onboarding took two weeks because the SCIM docs were wrong."])  # no front matter
    pdf = make_pdf([[*FRONT[:1], "Account: Initech", "Date: 2026-11-21", "---",
                     "Okta SSO fails for users in two groups at once."]])
    r = client.post("/", data={"text": "", "account": "Umbrella", "source": "call", "date": "2026-11-02",
                               "files": _files(("acme.txt", TXT), ("crm.csv", CSV), ("call.docx", docx),
                                               ("initech.pdf", pdf))},
                    content_type="multipart/form-data")
    assert r.status_code == 200, _main(r)
    html = _main(r)
    assert "Stored 5 notes" in html and "5 notes from 4 files" in html
    assert "acme.txt: 1 note" in html and "crm.csv: 2 notes" in html
    notes = _notes(client)
    found = {k[:20]: (n["account"], (n["date"] or "")[:10], n["source"]) for k, n in notes.items()}
    assert found == {
        "The CSV export times": ("Acme Logistics", "2026-11-20", "interview"),  # front matter wins over the form
        "SSO setup took two w": ("Globex", "2026-11-18", "call"),  # the row's own account and date
        "Audit log export is ": ("Umbrella", "2026-11-19", "call"),  # a blank account cell takes the form's
        "Onboarding took two ": ("Umbrella", "2026-11-02", "call"),  # no front matter: the form's fields
        "Okta SSO fails for u": ("Initech", "2026-11-21", "call"),
    }
    assert notes["SSO setup took two weeks and needed our IT team"]["external_id"] == "c-1"


def test_a_paste_and_files_are_stored_together(client):
    r = client.post("/", data={"text": "Exports time out every Monday.", "account": "Acme", "source": "call",
                               "files": _files(("acme.txt", TXT))}, content_type="multipart/form-data")
    assert r.status_code == 200
    assert "You sent 2 notes (1 pasted note, 1 note from 1 file)" in " ".join(_main(r).split())
    assert {n["account"] for n in _notes(client).values()} == {"Acme", "Acme Logistics"}


def test_a_bad_file_among_good_ones_names_every_error_and_stores_nothing(client):
    bad_csv = b"text,date\nThe export is slow.,2026-11-18\nSSO is hard.,not a date\n"
    r = client.post("/", data={"source": "call", "files": _files(
        ("acme.txt", TXT), ("exports/2026/crm.csv", bad_csv), ("old.doc", b"\xd0\xcf\x11\xe0 word 97"),
        ("scan.pdf", make_pdf([[]])))}, content_type="multipart/form-data")
    assert r.status_code == 422
    html = _main(r)
    assert "Nothing was stored" in html
    assert "crm.csv:3 [date]: unparseable date &#39;not a date&#39;" in html  # file, line and field; no folder
    assert "exports" not in html
    assert "old.doc: unsupported file type &#39;.doc&#39;" in html and "save it as .docx" in html
    assert "scan.pdf [text]: no text found: a scanned PDF needs OCR first" in html
    assert 'id="files-error"' in html and 'aria-invalid="true"' in html
    assert _count(client) == 0


def test_a_file_name_is_a_label_escaped_on_the_page(client):
    name = "../../<img src=x onerror=alert(1)>.csv"
    r = client.post("/", data={"source": "call", "files": _files((name, b"text,date\nA,1 Mayy\n"))},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    html = _main(r)
    assert "&lt;img src=x onerror=alert(1)&gt;.csv:2 [date]" in html
    assert "<img" not in html and "../" not in html


def test_an_empty_file_is_an_error_not_zero_notes_stored(client):
    r = client.post("/", data={"source": "call", "files": _files(("acme.txt", TXT), ("empty.jsonl", b""))},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    assert "empty.jsonl: no notes in this file" in _main(r)
    assert _count(client) == 0


def test_a_future_form_date_is_said_once_under_the_date_field(client):
    r = client.post("/", data={"source": "call", "date": "2099-11-01",
                               "files": _files(("crm.csv", b"text\nExports time out.\nSSO is hard.\n"))},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    html = _main(r)
    errors = html[html.index('id="date-error"'):]
    assert errors.count("2099-11-01 is in the future") == 1 and 'id="files-error"' not in html
    assert _count(client) == 0


def test_neither_paste_nor_files_asks_for_a_note(client):
    r = client.post("/", data={"text": "  ", "source": "call"}, content_type="multipart/form-data")
    assert r.status_code == 422 and "Paste at least one note." in _main(r)


def test_too_many_files_is_a_field_error(client):
    files = _files(*[(f"n{i}.txt", f"Note {i} about exports.".encode()) for i in range(MAX_UPLOAD_FILES + 1)])
    r = client.post("/", data={"source": "call", "files": files}, content_type="multipart/form-data")
    assert r.status_code == 422
    assert f"upload at most {MAX_UPLOAD_FILES} at a time" in _main(r)
    assert _count(client) == 0


def test_an_upload_over_the_request_limit_is_a_413_page_with_the_form(make_app):
    app = make_app(MAX_CONTENT_LENGTH=50_000)
    client = app.test_client()
    big = ("text\n" + "The export times out again.\n" * 3000).encode()  # ~84 kB
    r = client.post("/", data={"source": "call", "files": _files(("big.csv", big))},
                    content_type="multipart/form-data")
    assert r.status_code == 413
    html = _main(r)
    assert "larger than the limit of 50,000 bytes for one request" in html and "nothing was stored" in html
    assert 'type="file"' in html  # the form again, to try with fewer files
    assert _count(client) == 0


def test_an_upload_without_the_csrf_token_is_refused_and_stores_nothing(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    r = client.post("/", data={"source": "call", "files": _files(("acme.txt", TXT))},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    assert "nothing was stored" in r.get_data(as_text=True) and "choose the files again" in r.get_data(as_text=True)
    assert _count(client) == 0


def test_a_viewer_may_not_upload(app, client):
    viewer = app.test_client(role="viewer")
    r = viewer.post("/", data={"source": "call", "files": _files(("acme.txt", TXT))},
                    content_type="multipart/form-data")
    assert r.status_code == 403
    assert _count(client) == 0


def test_a_large_upload_becomes_a_job(make_app):
    app = make_app(ASYNC_INGEST_NOTES=1)
    client = app.test_client()
    r = client.post("/", data={"source": "call", "files": _files(("crm.csv", CSV))},
                    content_type="multipart/form-data")
    assert r.status_code == 303 and "/jobs/" in r.headers["Location"]


# ---- the API ----------------------------------------------------------------------------------------------------
def test_api_multipart_upload_answers_as_a_json_ingest(client):
    r = client.post(NOTES, data={"file": _files(("acme.txt", TXT), ("crm.csv", CSV)), "account": "Umbrella",
                                 "date": "2026-11-02"}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == {"created", "updated", "unchanged", "statements_embedded", "note_ids", "rejected",
                         "accounts_filed"}
    assert body["created"] == 3 and body["rejected"] == [] and len(body["note_ids"]) == 3
    accounts = {k[:10]: n["account"] for k, n in _notes(client).items()}
    assert accounts == {"The CSV ex": "Acme Logistics", "SSO setup ": "Globex", "Audit log ": "Umbrella"}
    again = client.post(NOTES, data={"file": _files(("acme.txt", TXT))}, content_type="multipart/form-data")
    assert again.status_code == 201 and again.get_json()["unchanged"] == 1  # deduplicated as any ingest


def test_api_docx_and_pdf_upload(client):
    docx = make_docx([*FRONT, "Exports time out above 50k rows."])
    pdf = make_pdf([["SSO setup took two weeks."]])
    r = client.post(NOTES, data={"file": _files(("call.docx", docx), ("call.pdf", pdf)), "account": "Initech"},
                    content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["created"] == 2
    assert {n["account"] for n in _notes(client).values()} == {"Acme Logistics", "Initech"}


def test_api_json_still_works(client):
    r = client.post(NOTES, json=[{"text": "Exports time out.", "account": "Acme"}])
    assert r.status_code == 201 and r.get_json()["created"] == 1
    assert set(r.get_json()) >= {"created", "rejected", "accounts_filed"}


def test_api_unreadable_file_is_a_400_naming_it_and_nothing_is_stored(client):
    r = client.post(NOTES, data={"file": _files(("acme.txt", TXT), ("calls/old.doc", b"\xd0\xcf\x11\xe0"))},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert "old.doc" in error["message"] and error["details"]["unreadable"] == ["old.doc"]
    assert error["details"]["errors"][0]["source"] == "old.doc"
    assert "unsupported file type" in error["details"]["errors"][0]["reason"]
    assert _count(client) == 0
    skipped = client.post(f"{NOTES}?skip_invalid=true", data={"file": _files(("acme.txt", TXT), ("old.doc", b"x"))},
                          content_type="multipart/form-data")
    assert skipped.status_code == 201 and skipped.get_json()["created"] == 1
    assert skipped.get_json()["rejected"][0]["source"] == "old.doc"


def _inflating_docx(megabytes: int) -> bytes:
    """A small .docx whose one extra part unpacks to `megabytes` MiB of zeros (a zip bomb within the per-file limit)."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx(["Call notes."])), "r") as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(member, source.read(member))
        target.writestr("word/media/filler.bin", bytes(megabytes * 1024**2))
    return buffer.getvalue()


def test_api_docx_files_share_one_unpacked_budget_per_upload(client):
    from service.ingest.uploads import MAX_UPLOAD_UNPACKED

    each = _inflating_docx(50)
    assert len(each) < 200_000  # small on the wire, 50 MiB unpacked: under the per-file limit of 64 MiB
    r = client.post(NOTES, data={"file": _files(*((f"call-{n}.docx", each) for n in range(1, 5)))},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["details"]["unreadable"] == ["call-3.docx", "call-4.docx"]  # 2 x 50 MiB fit in 128 MiB, 3 do not
    reasons = [e["reason"] for e in error["details"]["errors"]]
    assert reasons == [f"the .docx files of this upload unpack to more than {MAX_UPLOAD_UNPACKED // 1024**2} MiB "
                       "together; send fewer at a time"] * 2
    assert _count(client) == 0


def test_api_invalid_rows_are_a_422_with_file_line_and_field(client):
    bad = b"text,date\nThe export is slow.,2026-11-18\nSSO is hard.,not a date\n"
    r = client.post(NOTES, data={"file": _files(("acme.txt", TXT), ("crm.csv", bad))},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    errors = r.get_json()["error"]["details"]["errors"]
    assert [(e["source"], e["line"], e["field"]) for e in errors] == [("crm.csv", 3, "date")]
    assert _count(client) == 0


def test_api_bad_default_field_is_a_422_naming_it(client):
    r = client.post(NOTES, data={"file": _files(("acme.txt", TXT)), "source": "fax"},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    assert r.get_json()["error"]["details"]["field"] == "source" and "fax" in r.get_json()["error"]["message"]
    assert _count(client) == 0


@pytest.mark.parametrize("data, needle", [
    ({"files": (io.BytesIO(b"x"), "a.txt")}, "'files'"),  # a part under another name
    ({"file": "notes.txt"}, "no file name"),  # curl -F file=notes.txt, without the @
    ({"account": "Acme"}, "no files"),
])
def test_api_multipart_without_file_parts_is_a_400(client, data, needle):
    r = client.post(NOTES, data=data, content_type="multipart/form-data")
    assert r.status_code == 400 and needle in r.get_json()["error"]["message"]


def test_api_a_part_whose_name_cannot_be_read_is_a_400_not_a_500(client):
    # name="ab\" escapes its own closing quote: werkzeug gives the part the name None (found by the API fuzz test)
    body = (b'--b0undary\r\nContent-Disposition: form-data; name="ab\\"\r\n\r\nnull\r\n'
            b'--b0undary\r\nContent-Disposition: form-data; name="G"\r\n\r\nnull\r\n--b0undary--\r\n')
    r = client.post(NOTES, data=body, content_type="multipart/form-data; boundary=b0undary")
    assert r.status_code == 400
    message = r.get_json()["error"]["message"]
    assert "unknown part(s)" in message and "without a readable name" in message and "'G'" in message
    assert _count(client) == 0


def test_api_other_content_types_are_a_415_naming_both(client):
    r = client.post(NOTES, data=b"Exports time out.", content_type="text/plain")
    assert r.status_code == 415
    error = r.get_json()["error"]
    assert "application/json" in error["message"] and "multipart/form-data" in error["message"]
    assert _count(client) == 0


def test_api_upload_over_the_limit_is_a_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=20_000).test_client()
    r = client.post(NOTES, data={"file": _files(("big.txt", b"x" * 30_000))}, content_type="multipart/form-data")
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"
    assert _count(client) == 0


def test_api_large_upload_is_queued(make_app):
    client = make_app(ASYNC_INGEST_NOTES=1).test_client()
    r = client.post(NOTES, data={"file": _files(("crm.csv", CSV))}, content_type="multipart/form-data")
    assert r.status_code == 202 and r.get_json()["status_url"].startswith("/api/v1/jobs/")


def test_api_upload_needs_the_pm_role(app, client):
    for role in ("viewer", "sales"):
        r = app.test_client(role=role).post(NOTES, data={"file": _files(("acme.txt", TXT))},
                                            content_type="multipart/form-data")
        assert r.status_code == 403, role
    assert _count(client) == 0
    r = app.test_client(role="pm").post(NOTES, data={"file": _files(("acme.txt", TXT))},
                                        content_type="multipart/form-data")
    assert r.status_code == 201


def test_openapi_documents_the_multipart_body(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/notes"]["post"]
    content = operation["requestBody"]["content"]
    assert "application/json" in content
    assert content["multipart/form-data"]["schema"]["properties"]["file"]["items"]["format"] == "binary"
    assert "multipart/form-data" in operation["responses"]["415"]["description"]


@pytest.mark.parametrize("given, label", [
    ("acme.txt", "acme.txt"), ("../../etc/acme.txt", "acme.txt"), ("C:\\calls\\acme.txt", "acme.txt"),
    ("a\nb.txt", "ab.txt"), ("", "file 3"), ("..", "file 3"), (None, "file 3"),
])
def test_upload_names_are_labels_without_folders(given, label):
    assert upload_name(given, 3) == label
