"""The CLI answers bad input with a one-line error and exit code 1 or 2, never a traceback."""
from __future__ import annotations

import pytest

HUGE = "9" * 30


@pytest.fixture
def cli(run_cli, tmp_path):
    from click.testing import CliRunner

    from service.cli import cli as group

    assert run_cli("ingest", "tests/data/notes.jsonl", "-q").exit_code == 0
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(group, list(args), input=input)


def _bad_files(tmp_path):
    files = {
        "deep.jsonl": '{"text": ' + "[" * 5000 + "]" * 5000 + "}\n",
        "surrogate.jsonl": '{"text": "hi \\ud800"}\n',
        "date.jsonl": '{"text": "A note.", "date": 1e20}\n{"text": "B note.", "date": "Infinity"}\n',
        "types.jsonl": '{"text": "A note.", "account": {"a": 1}}\n',
        "float_id.jsonl": '{"text": "A note.", "id": 1.5}\n',
        "nan.jsonl": '{"text": NaN}\n',
        "bytes.csv": b"text\n\xff\xfe\n",
        "empty.csv": "",
        "roadmap.json": '[{"id": "A", "title": "T", "status": "planned", "effort": 1e400}]',
        "roadmap_deep.json": "[" * 5000,
    }
    paths = {}
    for name, body in files.items():
        path = tmp_path / name
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        paths[name] = str(path)
    return paths


def test_cli_bad_input_never_prints_a_traceback(cli, tmp_path):
    f = _bad_files(tmp_path)
    commands = [
        ["ingest", f["deep.jsonl"]], ["ingest", f["surrogate.jsonl"]], ["ingest", f["date.jsonl"]],
        ["ingest", f["types.jsonl"]], ["ingest", f["float_id.jsonl"]], ["ingest", f["nan.jsonl"]],
        ["ingest", f["bytes.csv"]], ["ingest", f["empty.csv"]], ["ingest", str(tmp_path / "missing.jsonl")],
        ["roadmap", "import", f["roadmap.json"]], ["roadmap", "import", f["roadmap_deep.json"]],
        ["notes", "show", HUGE], ["notes", "delete", HUGE], ["notes", "list", "--since", "1e20"],
        ["notes", "list", "--until", "Infinity"], ["notes", "list", "--limit", HUGE],
        ["themes", "show", HUGE], ["themes", "run", "--since", "99999-01-01"], ["themes", "run", "--min-mentions", HUGE],
        ["drafts", "show", HUGE], ["reports", "show", HUGE], ["report", "--as-of", "1e20"],
        ["roadmap", "show", HUGE], ["roadmap", "link", "RM-1", "--theme", HUGE], ["roadmap", "link", HUGE, "--note", HUGE],
        ["match", ""], ["tokens", "revoke", HUGE], ["users", "add", "x" * 400 + "@example.com", "--role", "pm"],
        ["report", "--webhook", "http://127.0.0.1:1\\@hooks.slack.com/x"],
    ]
    problems = []
    for args in commands:
        result = cli(*args)
        out = result.output
        if result.exit_code not in (1, 2) or "Traceback" in out or "FEEDBACK_DEBUG" in out \
                or not ("error" in out.lower() or "usage" in out.lower()):
            problems.append((args[:3], result.exit_code, out[-300:]))
    assert problems == [], "\n".join(map(repr, problems))
    assert len(commands) >= 28
