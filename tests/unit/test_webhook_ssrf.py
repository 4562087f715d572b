"""Webhook URLs from API callers: every SSRF form refused before anything is sent; the connection is pinned to the
checked address; redirects are not followed; the remote body is never recorded; the total time is bounded."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
import responses

from service.reports import webhook_url
from service.reports.deliver import WebhookURLError, check_url, post

SLACK = "hooks.slack.com"
HOOK = "https://hooks.slack.com/services/T0/B0/secret"

SSRF_FORMS = [
    "http://127.0.0.1:8080\\@hooks.slack.com/x",        # urlsplit reads hooks.slack.com, requests goes to 127.0.0.1
    "http://127.0.0.1:8080\\\\@hooks.slack.com/x",
    "https://hooks.slack.com\\@127.0.0.1/x",
    "http://user:pw@hooks.slack.com/x",
    "http://hooks.slack.com@127.0.0.1/x",
    "http://hooks.slack.com:80@127.0.0.1:6379/",
    "http://127.0.0.1/x", "http://127.0.0.1:6379/", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x",
    "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/",
    "http://0.0.0.0/", "http://[fe80::1]/", "http://[fc00::1]/",
    "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/", "http://localhost/",
    "ftp://hooks.slack.com/x", "file:///etc/passwd", "gopher://hooks.slack.com/", "javascript:alert(1)",
    "http:///x", "//hooks.slack.com/x", "hooks.slack.com/x", "",
    "http://hooks.slack.com\t/x", "http://hooks.slack.com /x", "http://hooks.slack.com\n.evil/x",
    "http://hooks.slack.com:99999/x", "http://hooks.slack.com:-1/x", "http://hooks.slack.com.evil.example/x",
    "http://evil.example/?hooks.slack.com", "http://hooks.slаck.com/x",  # Cyrillic a
    "http://%31%32%37.0.0.1/", "http://hooks.slack.com%2e/x", "http://[::1]:80\\@hooks.slack.com/",
]


@pytest.mark.parametrize("url", SSRF_FORMS)
def test_every_ssrf_form_is_refused_by_the_url_check(url):
    with pytest.raises(WebhookURLError):
        check_url(url, [SLACK])


@responses.activate
@pytest.mark.parametrize("url", SSRF_FORMS[:12])
def test_post_refuses_ssrf_forms_without_sending(url):
    result = post(url, {"text": "quote"}, base_delay=0, allow_private=False,
                  resolver=lambda host, port: ["93.184.216.34"])
    assert not result.ok and result.attempts == 0 and result.error.startswith("not sent")
    assert len(responses.calls) == 0


def test_a_plain_allowed_url_passes():
    assert check_url(HOOK, [SLACK]) == HOOK
    assert check_url("https://HOOKS.slack.com/x", "hooks.slack.com") == "https://HOOKS.slack.com/x"


@pytest.mark.parametrize("addresses", [["127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"], ["::1"],
                                       ["93.184.216.34", "192.168.0.4"], ["::ffff:10.0.0.1"], []])
@responses.activate
def test_a_name_that_resolves_to_a_private_address_is_refused(addresses):
    result = post(HOOK, {"text": "x"}, base_delay=0, resolver=lambda host, port: addresses)
    assert not result.ok and result.attempts == 0 and len(responses.calls) == 0
    assert "secret" not in result.error  # only the host is ever named


@responses.activate
def test_redirects_are_not_followed():
    responses.post(HOOK, status=302, headers={"Location": "http://127.0.0.1:6379/"})
    result = post(HOOK, {"text": "x"}, base_delay=0, resolver=lambda h, p: ["8.8.8.8"])
    assert not result.ok and result.attempts == 1 and len(responses.calls) == 1
    assert "redirect" in result.error


@responses.activate
def test_the_remote_body_is_never_recorded():
    responses.post(HOOK, status=400, body="internal secret: db password hunter2")
    responses.post(HOOK, status=500, body="internal secret: db password hunter2")
    result = post(HOOK, {"text": "x"}, base_delay=0, resolver=lambda h, p: ["8.8.8.8"])
    assert not result.ok and result.error == "HTTP 400 from hooks.slack.com"


@responses.activate
def test_all_attempts_together_stay_within_the_total_timeout():
    responses.post(HOOK, body=requests.exceptions.ConnectTimeout())
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    result = post(HOOK, {"text": "x"}, attempts=5, base_delay=4, total_timeout=12, sleep=sleep,
                  clock=lambda: now[0], resolver=lambda h, p: ["8.8.8.8"])
    assert not result.ok and "gave up after 2 attempts: another would end after the 12 s limit" in result.error
    assert slept == [4] and len(responses.calls) == 2  # the next wait (8 s) would pass the deadline


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append((self.path, self.headers.get("Host")))
        self.send_response(302 if self.path == "/redirect" else 200)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    _Recorder.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_checked_address(loopback_server):
    """The name does not resolve here at all: the request reaches the server only through the pinned address,
    with the name kept in the Host header."""
    port = loopback_server
    url = f"http://hooks.example.com:{port}/services/x"
    calls = []

    def resolver(host, p):
        calls.append(host)
        return ["127.0.0.1"]

    result = post(url, {"text": "x"}, base_delay=0, allow_private=True, resolver=resolver)
    assert result.ok, result.error
    assert calls == ["hooks.example.com"]  # resolved once, not again by the HTTP client
    assert _Recorder.seen == [("/services/x", f"hooks.example.com:{port}")]


def test_a_real_redirect_is_not_followed(loopback_server):
    url = f"http://hooks.example.com:{loopback_server}/redirect"
    result = post(url, {"text": "x"}, base_delay=0, allow_private=True, resolver=lambda h, p: ["127.0.0.1"])
    assert not result.ok and result.status_code == 302
    assert [path for path, _ in _Recorder.seen] == ["/redirect"]


def test_loopback_is_refused_for_api_callers_even_when_it_listens(loopback_server):
    result = post(f"http://127.0.0.1:{loopback_server}\\@hooks.slack.com/x", {"text": "x"}, base_delay=0)
    assert not result.ok and _Recorder.seen == []
    result = post(f"http://hooks.example.com:{loopback_server}/x", {"text": "x"}, base_delay=0,
                  resolver=lambda h, p: ["127.0.0.1"])
    assert not result.ok and _Recorder.seen == []


def test_resolver_failure_is_a_clear_refusal(monkeypatch):
    def boom(*args, **kwargs):
        import socket
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(webhook_url.socket, "getaddrinfo", boom)
    result = post(HOOK, {"text": "x"}, base_delay=0)
    assert not result.ok and "could not be resolved" in result.error


@responses.activate
@pytest.mark.parametrize("url", [u for u in SSRF_FORMS if u])  # an empty webhook means "do not deliver"
def test_the_reports_api_refuses_every_ssrf_form(app, url):
    app.extensions["feedback"].config.WEBHOOK_ALLOWED_HOSTS = SLACK
    resp = app.test_client().post("/api/v1/reports", json={"since": "1d", "webhook": url})
    assert resp.status_code == 422, (url, resp.get_json())
    assert len(responses.calls) == 0
    assert app.test_client().get("/api/v1/reports").get_json()["reports"] == []  # nothing built or stored
