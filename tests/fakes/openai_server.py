"""A real loopback HTTP server that speaks the chat completions API, playing a script of replies.

openai 3.x sends through httpx2, which respx cannot intercept, so tests talk to this over TCP instead.

Script entries, consumed in order (the last one repeats once the script runs out):
    {"content": "<string>"}                  200 with that assistant message content
    {"status": 429, "headers": {...}}        an error status (optional "body", default OpenAI-shaped)
    {"hang": seconds, ...}                   sleep first, then answer with the rest of the entry
    {"trickle": seconds, ...}                send the headers at once, then the body one byte per `seconds`
    callable(request_json) -> entry          decide from the request
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

DEFAULT_REPLY = {"content": "{}"}


class FakeOpenAI:
    def __init__(self, script=None, *, model: str = "fake-model"):
        self.model = model
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._script: list = []
        self._pos = 0
        self.set_script(script or [])
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # a hanging handler must not block close()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes hanging handlers so the test run does not wait for them
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- script ----------------------------------------------------------
    def set_script(self, script) -> None:
        with self._lock:
            self._script = list(script)
            self._pos = 0

    def _next_entry(self):
        with self._lock:
            if not self._script:
                return DEFAULT_REPLY
            entry = self._script[min(self._pos, len(self._script) - 1)]
            self._pos += 1
            return entry

    @property
    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def completion(self, content: str, model: str | None = None) -> dict:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model or self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(content) // 4), "total_tokens": 10 + max(1, len(content) // 4)},
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/").endswith("/v1/models"):
            self._send(200, {"object": "list", "data": [{"id": self.fake.model, "object": "model", "owned_by": "fake"}]})
        else:
            self._send(404, _error("not found", "not_found_error"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        self._record(body)
        if not self.path.rstrip("/").endswith("/v1/chat/completions"):
            self._send(404, _error("not found", "not_found_error"))
            return
        entry = self.fake._next_entry()
        if callable(entry):
            entry = entry(body)
        if entry.get("hang"):
            if self.fake._closing.wait(entry["hang"]):
                return  # server closing: drop the connection
        status = entry.get("status", 200)
        if status != 200:
            default = _error(f"scripted status {status}", "rate_limit_error" if status == 429 else "server_error")
            self._send(status, entry.get("body", default), entry.get("headers"))
            return
        model = entry.get("model") or (body or {}).get("model")
        self._send(200, self.fake.completion(entry.get("content", "{}"), model), entry.get("headers"),
                   trickle=entry.get("trickle"))

    def _record(self, body) -> None:
        with self.fake._lock:
            self.fake.requests.append(
                {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "json": body}
            )

    def _send(self, status: int, payload, headers=None, trickle: float | None = None) -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, str(value))
            self.end_headers()
            if not trickle:
                self.wfile.write(data)
                return
            self.wfile.flush()
            for i in range(len(data)):  # every byte well within a read timeout, the whole far beyond it
                if self.fake._closing.wait(trickle):
                    return
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to answer


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@pytest.fixture
def fake_openai():
    """A started FakeOpenAI with an empty script (answers "{}"); call set_script() in the test."""
    with FakeOpenAI() as fake:
        yield fake
