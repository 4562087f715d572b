"""Send a stored report to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Teams workflows...).

Retried with exponential backoff on 5xx, 429, timeouts and connection errors; any other 4xx is final (retrying a
bad URL or a revoked hook cannot help). The outcome is recorded on the stored report, which is never lost.
The webhook URL is a secret (it is the credential): it is never logged or stored, only its host.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from ..models import Report, utcnow
from .render import header, markdown_sections, render_markdown

log = logging.getLogger(__name__)

ATTEMPTS = 3
BASE_DELAY = 1.0  # seconds before the 2nd attempt; doubles each time
MAX_DELAY = 30.0
TIMEOUT = 10.0
SECTION_LIMIT = 2900  # Slack rejects section text over 3,000 characters
TEXT_LIMIT = 39_000  # and a message over 40,000


class WebhookURLError(ValueError):
    pass


@dataclass
class Delivery:
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


def check_url(url: str, allowed_hosts: str | list[str] | None = None) -> str:
    """An http(s) URL; with allowed_hosts (an API caller's URL), its host must be one of them."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookURLError("the webhook URL must be an http:// or https:// address")
    if allowed_hosts is not None:
        hosts = allowed_hosts.split(",") if isinstance(allowed_hosts, str) else allowed_hosts
        hosts = {h.strip().lower() for h in hosts if h and h.strip()}
        if (parts.hostname or "").lower() not in hosts:
            raise WebhookURLError(f"webhook host {parts.hostname!r} is not allowed; allowed hosts: "
                                  f"{', '.join(sorted(hosts)) or 'none'} (set FEEDBACK_WEBHOOK_ALLOWED_HOSTS)")
    return url


def api_allowed_hosts(config) -> list[str]:
    """FEEDBACK_WEBHOOK_ALLOWED_HOSTS plus the host of the configured FEEDBACK_REPORT_WEBHOOK_URL."""
    hosts = [h for h in str(getattr(config, "WEBHOOK_ALLOWED_HOSTS", "") or "").split(",") if h.strip()]
    configured = getattr(config, "REPORT_WEBHOOK_URL", None)
    if configured and urlsplit(configured).hostname:
        hosts.append(urlsplit(configured).hostname)
    return hosts


def build_payload(data: dict) -> dict:
    """{"text": the Markdown summary (Slack mrkdwn), "blocks": header, context and one section per part}."""
    text = render_markdown(data, "slack")
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + "\n…"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": data["title"][:150], "emoji": False}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": header(data)}]},
    ]
    for heading, body in markdown_sections(data, "slack"):
        body = body if len(body) <= SECTION_LIMIT else body[:SECTION_LIMIT] + "\n…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{heading}*\n{body}"}})
    return {"text": text, "blocks": blocks[:50]}


def backoff_delay() -> float:
    """FEEDBACK_REPORT_WEBHOOK_BACKOFF overrides the first delay (tests use a few milliseconds)."""
    try:
        return float(os.environ.get("FEEDBACK_REPORT_WEBHOOK_BACKOFF", BASE_DELAY))
    except ValueError:
        return BASE_DELAY


def post(url: str, payload: dict, *, attempts: int = ATTEMPTS, base_delay: float | None = None,
         timeout: float = TIMEOUT, sleep=time.sleep) -> Delivery:
    check_url(url)
    base_delay = backoff_delay() if base_delay is None else base_delay
    host = urlsplit(url).hostname or "the webhook"
    error, status = None, None
    for attempt in range(1, attempts + 1):
        retry_after = None
        try:
            resp = requests.post(url, json=payload, timeout=timeout)
            status = resp.status_code
            if 200 <= status < 300:
                return Delivery(True, attempt, status)
            error = f"HTTP {status} from {host}: {_short(resp.text)}"
            if status != 429 and status < 500:
                return Delivery(False, attempt, status, error)  # the request itself is wrong: retrying cannot help
            retry_after = _retry_after(resp)
        except requests.Timeout:
            error, status = f"{host} did not answer within {timeout:g} s", None
        except requests.ConnectionError as exc:
            error, status = f"could not connect to {host} ({type(exc).__name__})", None
        if attempt < attempts:
            delay = min(MAX_DELAY, base_delay * 2 ** (attempt - 1))
            sleep(max(delay, min(retry_after or 0, MAX_DELAY)))
    return Delivery(False, attempts, status, f"{error} (gave up after {attempts} attempts)")


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


def _retry_after(resp) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "…"
