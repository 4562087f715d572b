"""From the new-user walkthrough of the README: `themes list --status` counted only the themes it showed in the
run's header, and `feedback demo` on a busy port printed a sign-in link for a server that never started."""
from __future__ import annotations

import socket

from service.cli.themes import _print_run

RUN = {"run_id": 3, "mode": "full", "assigned": 40, "statements": 50,
       "themes": [{"id": n, "status": "recurring" if n < 4 else "emerging", "label": f"theme {n}", "mentions": 5,
                   "accounts": 3, "trend": "steady"} for n in range(1, 6)]}


def test_the_header_of_a_filtered_list_describes_the_whole_run(capsys):
    shown = {**RUN, "themes": [t for t in RUN["themes"] if t["status"] == "emerging"]}
    _print_run(shown, counted=RUN["themes"])
    out = capsys.readouterr().out
    assert out.startswith("run 3 (full): 3 recurring themes, 2 emerging;")  # was "0 recurring themes, 2 emerging"
    assert "theme 4" in out and "theme 1" not in out  # the list itself stays filtered


def test_demo_on_a_busy_port_says_so_before_doing_anything(run_cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("demo", "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr and f"try --port {port + 1}" in result.stderr
    assert "sign-in" not in result.output.lower() and "Loading the sample notes" not in result.output
