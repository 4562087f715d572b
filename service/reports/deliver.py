"""Send a stored report to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Teams workflows...).

Retried with exponential backoff on 5xx, 429, timeouts and connection errors; any other 4xx is final (retrying a
bad URL or a revoked hook cannot help). The outcome is recorded on the stored report, which is never lost.
The webhook URL is a secret (it is the credential): it is never logged or stored, only its host. The remote
answer's body is never read or recorded (it could be anything the remote chose to say), redirects are not followed,
and every attempt together must finish within TOTAL_TIMEOUT. URL rules and address pinning: webhook_url.py.

From the API and the pages, delivery is a job (enqueue_delivery): the request answers at once with the report
marked "queued", and the job records "sent" or "failed" with a short error. An API caller's URL travels in the job
row sealed with the app's secret key (Fernet) and is dropped from the row once the job has run.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

from ..models import Report, utcnow
from .render import header, markdown_sections, render_markdown
from .webhook_url import (Deadline, PinnedAdapter, PrivateAddressError, WebhookURLError, check_allowed,
                          parse_webhook_url, resolve_target)

__all__ = ["WebhookURLError", "PrivateAddressError", "check_url", "api_allowed_hosts", "build_payload", "post",
           "deliver_report", "enqueue_delivery", "run_delivery_job"]

log = logging.getLogger(__name__)

ATTEMPTS = 3
BASE_DELAY = 1.0  # seconds before the 2nd attempt; doubles each time
MAX_DELAY = 30.0
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
TOTAL_TIMEOUT = 12.0  # all attempts and waits together: a slow webhook must not hold a worker for long
MIN_ATTEMPT_SECONDS = 0.05  # no attempt is started with less time left than this
SECTION_LIMIT = 2900  # Slack rejects section text over 3,000 characters
TEXT_LIMIT = 39_000  # and a message over 40,000


@dataclass
class Delivery:
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


def check_url(url: str, allowed_hosts: str | list[str] | None = None, *, allow_private: bool = False) -> str:
    """A strictly parsed http(s) URL (webhook_url.parse_webhook_url); with allowed_hosts (an API caller's URL),
    its host must be one of them and an address must be public. allow_private (FEEDBACK_WEBHOOK_ALLOW_PRIVATE) lets
    the operator's own URL (CLI, schedule) be a private address. DNS is checked when the report is posted."""
    _, host, _ = parse_webhook_url(url, allow_private=allow_private and allowed_hosts is None)
    if allowed_hosts is not None:
        check_allowed(host, allowed_hosts)
    return url


def api_allowed_hosts(config) -> list[str]:
    """FEEDBACK_WEBHOOK_ALLOWED_HOSTS plus the host of the configured FEEDBACK_REPORT_WEBHOOK_URL."""
    hosts = [h for h in str(getattr(config, "WEBHOOK_ALLOWED_HOSTS", "") or "").split(",") if h.strip()]
    configured = getattr(config, "REPORT_WEBHOOK_URL", None)
    if configured and urlsplit(configured).hostname:
        hosts.append(urlsplit(configured).hostname)
    return hosts


def build_payload(data: dict) -> dict:
    """{"text": the Markdown summary (Slack mrkdwn), "blocks": header, context and one section per part}.
    Every mrkdwn object is `verbatim`: Slack otherwise turns "@channel", "@here" and "#channel" written in a note
    into a mention or a channel link by itself (render.py escapes what other chat tools read)."""
    text = render_markdown(data, "slack")
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + "\n…"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": data["title"][:150], "emoji": False}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": header(data), "verbatim": True}]},
    ]
    for heading, body in markdown_sections(data, "slack"):
        body = body if len(body) <= SECTION_LIMIT else body[:SECTION_LIMIT] + "\n…"
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": f"*{heading}*\n{body}", "verbatim": True}})
    return {"text": text, "blocks": blocks[:50]}


def backoff_delay() -> float:
    """FEEDBACK_REPORT_WEBHOOK_BACKOFF overrides the first delay (tests use a few milliseconds)."""
    try:
        return float(os.environ.get("FEEDBACK_REPORT_WEBHOOK_BACKOFF", BASE_DELAY))
    except ValueError:
        return BASE_DELAY


@dataclass
class _Answer:
    """One attempt's outcome; `retry` when another attempt may help (5xx, 429, no answer in time, no connection)."""
    delivery: Delivery
    retry: bool = False
    retry_after: float | None = None


def post(url: str, payload: dict, *, attempts: int = ATTEMPTS, base_delay: float | None = None,
         total_timeout: float = TOTAL_TIMEOUT, allow_private: bool = False, resolver=None,
         sleep=time.sleep, clock=time.monotonic) -> Delivery:
    """POST payload to url: tenacity retries what may pass (exponential backoff from base_delay, or the remote's
    Retry-After if longer) until `attempts` are made or the next wait would pass total_timeout; a Deadline cuts a
    connection still open when total_timeout is up."""
    try:
        target = resolve_target(url, allow_private=allow_private, resolver=resolver)
    except WebhookURLError as exc:
        return Delivery(False, 0, None, f"not sent: {exc}")
    base_delay = backoff_delay() if base_delay is None else base_delay
    deadline_at = clock() + total_timeout
    made = []
    with requests.Session() as session, Deadline(total_timeout) as deadline:
        session.trust_env = False  # no proxy from the environment: the connection goes to the checked address
        session.mount(f"{target.scheme}://", PinnedAdapter(target, deadline))

        def attempt() -> _Answer:
            made.append(1)
            return _post_once(session, target, payload, deadline_at - clock(), deadline, total_timeout)

        exponential = wait_exponential(multiplier=base_delay, max=MAX_DELAY)

        def wait(state) -> float:
            retry_after = state.outcome.result().retry_after
            return max(exponential(state), min(retry_after or 0, MAX_DELAY))

        def out_of_time(state) -> bool:
            return clock() + state.upcoming_sleep >= deadline_at - MIN_ATTEMPT_SECONDS

        answer = Retrying(retry=retry_if_result(lambda answer: answer.retry), wait=wait, sleep=sleep,
                          stop=stop_after_attempt(attempts) | out_of_time,
                          retry_error_callback=lambda state: state.outcome.result())(attempt)
    result = answer.delivery
    result.attempts = len(made)
    if answer.retry and not deadline.expired.is_set():
        # Stopped early, the wait before the next attempt (a Retry-After of minutes, say) would pass the limit:
        # "gave up after 12 s" said of a delivery that had taken half a second misled whoever read it.
        why = (f"{len(made)} attempts" if len(made) >= attempts else
               f"{_attempts(len(made))}: another would end after the {total_timeout:g} s limit")
        result.error = f"{result.error} (gave up after {why})"
    return result


def _post_once(session, target, payload: dict, remaining: float, deadline: Deadline,
               total_timeout: float) -> _Answer:
    host = target.host
    try:
        with session.post(target.url, json=payload, headers={"Host": target.host_header}, allow_redirects=False,
                          stream=True, timeout=(max(min(CONNECT_TIMEOUT, remaining), MIN_ATTEMPT_SECONDS),
                                                max(min(READ_TIMEOUT, remaining), MIN_ATTEMPT_SECONDS))) as resp:
            status = resp.status_code  # the body is never read: nothing the remote says is stored
            headers = resp.headers
    except (requests.RequestException, OSError) as exc:
        if deadline.expired.is_set():
            return _cut(host, total_timeout)
        if isinstance(exc, requests.Timeout):
            return _Answer(Delivery(False, 0, None, f"{host} did not answer in time"), True)
        return _Answer(Delivery(False, 0, None, f"could not connect to {host} ({type(exc).__name__})"), True)
    if deadline.expired.is_set():  # the cut ends a header read like the end of the headers: not an answer
        return _cut(host, total_timeout)
    if 200 <= status < 300:
        return _Answer(Delivery(True, 0, status))
    error = f"HTTP {status} from {host}"
    if 300 <= status < 400:
        return _Answer(Delivery(False, 0, status, f"{error} (a redirect; redirects are not followed)"))
    if status != 429 and status < 500:
        return _Answer(Delivery(False, 0, status, error))  # the request itself is wrong: retrying cannot help
    return _Answer(Delivery(False, 0, status, error), True, _retry_after(headers))


def _attempts(n: int) -> str:
    return f"{n} attempt{'' if n == 1 else 's'}"


def _cut(host: str, total_timeout: float) -> _Answer:
    return _Answer(Delivery(False, 0, None, f"{host} did not answer within {total_timeout:g} s"), True)


def deliver_report(services, report_id: int, url: str, **kwargs) -> Delivery:
    """Post a stored report and record the outcome on it. A failure is recorded, not raised."""
    with services.db.session() as session:
        report = session.get(Report, report_id)
        if report is None:
            raise LookupError(f"no report with id {report_id}")
        payload = build_payload(report.data)
    result = post(url, payload, **kwargs)
    with services.db.transaction() as session:
        report = session.get(Report, report_id)
        report.delivery_attempts = (report.delivery_attempts or 0) + result.attempts
        report.delivery_status = "sent" if result.ok else "failed"
        report.delivery_error = None if result.ok else result.error
        if result.ok:
            report.delivered_at = utcnow()
    if not result.ok:
        log.warning("report %s not delivered: %s", report_id, result.error)
    return result


def _retry_after(headers) -> float | None:
    try:
        return float(headers.get("Retry-After", ""))
    except ValueError:
        return None


# ---- delivery as a job (API and pages) ---------------------------------------------------------------------
def _fernet(secret_key: str):
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    key = hashlib.sha256(f"feedback webhook url:{secret_key}".encode("utf-8", "surrogatepass")).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_url(secret_key: str, url: str) -> str:
    return _fernet(secret_key).encrypt(url.encode("utf-8")).decode("ascii")


def open_url(secret_key: str, sealed: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(secret_key).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise ValueError("the webhook URL cannot be read: this worker's FEEDBACK_SECRET_KEY differs from the "
                         "web process's") from None


def _mark(services, report_id: int, status: str, error: str | None = None) -> None:
    with services.db.transaction() as session:
        report = session.get(Report, report_id)
        if report is not None:
            report.delivery_status, report.delivery_error = status, error


def enqueue_delivery(services, report_id: int, url: str | None = None) -> dict:
    """Mark the report "queued" and hand its delivery to a job; url None means FEEDBACK_REPORT_WEBHOOK_URL."""
    from ..jobs import enqueue

    payload = {"report_id": int(report_id)}
    if url:
        payload["webhook"] = seal_url(services.config.SECRET_KEY, url)
    _mark(services, report_id, "queued")
    return enqueue(services, "deliver", payload)


def run_delivery_job(services, payload: dict, job_id: str | None = None) -> Delivery:
    """The deliver job's work: open the sealed URL (or take the configured one), post, record the outcome on the
    report; the sealed URL is removed from the job row whatever happened."""
    report_id = int(payload["report_id"])
    try:
        if payload.get("webhook"):
            url, allow_private = open_url(services.config.SECRET_KEY, payload["webhook"]), False  # an API caller's
        else:
            url = services.config.REPORT_WEBHOOK_URL
            allow_private = bool(getattr(services.config, "WEBHOOK_ALLOW_PRIVATE", False))
            if not url:
                raise ValueError("no webhook configured: set FEEDBACK_REPORT_WEBHOOK_URL")
    except ValueError as exc:
        _mark(services, report_id, "failed", str(exc))
        _forget_url(services, job_id)
        return Delivery(False, 0, None, str(exc))
    try:
        return deliver_report(services, report_id, url, allow_private=allow_private)
    finally:
        _forget_url(services, job_id)


def _forget_url(services, job_id: str | None) -> None:
    from ..models import Job

    if not job_id:
        return
    with services.db.transaction() as session:
        job = session.get(Job, job_id)
        if job is not None and "webhook" in (job.payload or {}):
            job.payload = {k: v for k, v in job.payload.items() if k != "webhook"}
