"""The optional LLM client: phrases what code decided, and fails into two exceptions callers can degrade on.

LLMUnavailable  - the endpoint could not answer (down, overloaded, timing out, rejecting us).
LLMBudgetSpent  - (an LLMUnavailable) this caller's daily LLM call budget is spent; nothing was sent.
LLMBadOutput    - it answered, but not with JSON that fits the prompt's output spec.

Callers catch LLMError and take the offline path. Nothing logged at INFO contains prompt or reply text:
notes are customer data, and some servers echo the input in error bodies, so we log names and numbers only.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from dataclasses import dataclass

import httpx2
import openai

from .prompts import Prompt

log = logging.getLogger(__name__)

_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?(.*?)```", re.S | re.I)


class LLMError(Exception):
    """Base for every failure the offline path should absorb."""


class LLMUnavailable(LLMError):
    pass


class LLMBudgetSpent(LLMUnavailable):
    """The caller's calls for today are used up (service/limits.LLMBudget); no request was made."""


class LLMBadOutput(LLMError):
    def __init__(self, problems: list[str], raw: str, *, messages: list[dict] | None = None):
        super().__init__("; ".join(problems))  # problem texts name keys and types, never content
        self.problems = list(problems)
        self.raw = raw
        self.messages = list(messages or [])  # what was sent, so a caller can build a repair turn


@dataclass(frozen=True)
class LLMReply:
    data: dict
    raw: str
    model: str
    latency_ms: float
    prompt_version: str


def make_client(config, budget=None) -> "LLMClient":
    return LLMClient(config, budget=budget)


class LLMClient:
    def __init__(self, config, *, retries: int = 2, backoff_base: float | None = None, max_retry_after: float = 5.0,
                 sleep=time.sleep, budget=None):
        self.model = config.LLM_MODEL
        self.budget = budget  # limits.LLMBudget: each call (a repair turn too) counts against the caller's day
        self.timeout = float(config.LLM_TIMEOUT)
        self.retries = retries
        # LLM_BACKOFF_BASE is not in Config's defaults; tests set it (~0.01 s) through TestConfig overrides.
        self.backoff_base = float(backoff_base if backoff_base is not None else getattr(config, "LLM_BACKOFF_BASE", 0.5))
        self.max_retry_after = max_retry_after  # a longer Retry-After means "not now": degrade instead of blocking a request
        self._sleep = sleep
        self._json_mode = True  # switched off for good once a server rejects response_format
        self._base_url = config.OPENAI_BASE_URL
        self._api_key = config.OPENAI_API_KEY or "not-needed"

    def close(self) -> None:
        """Nothing to release: each attempt opens and closes its own connection (see _attempt)."""

    def complete_json(self, prompt: Prompt, variables: dict, *, temperature: float | None = None) -> LLMReply:
        return self.complete_json_messages(prompt.render(**variables), prompt, temperature=temperature)

    def complete_json_messages(self, messages: list[dict], prompt: Prompt, *, temperature: float | None = None) -> LLMReply:
        """Send ready-made messages (e.g. with a repair turn appended) and validate against `prompt`'s output spec."""
        if self.budget is not None and not self.budget.charge():
            raise LLMBudgetSpent(self.budget.message())
        start = time.monotonic()
        completion = self._create(messages, prompt.temperature if temperature is None else temperature)
        latency_ms = (time.monotonic() - start) * 1000
        try:
            raw = completion.choices[0].message.content
            model = completion.model or self.model
        except (AttributeError, IndexError, TypeError) as exc:  # not a chat completion at all
            raise LLMUnavailable("LLM endpoint returned a response without choices") from exc
        if not raw:
            problems = ["empty reply"]
        else:
            try:
                data = extract_json(raw)
            except ValueError as exc:
                problems = [str(exc)]
            else:
                problems = prompt.check_output(data)
        if problems:
            log.warning("llm bad output prompt=%s version=%s problems=%s", prompt.name, prompt.version, problems)
            raise LLMBadOutput(problems, raw or "", messages=messages)
        log.info("llm ok prompt=%s version=%s model=%s latency_ms=%.0f reply_chars=%d", prompt.name, prompt.version, model, latency_ms, len(raw))
        return LLMReply(data=data, raw=raw, model=model, latency_ms=latency_ms, prompt_version=prompt.version)

    def _create(self, messages: list[dict], temperature: float | None):
        kwargs = {"model": self.model, "messages": messages}
        if temperature is not None:
            kwargs["temperature"] = temperature
        if self._json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        failures = timeouts = 0
        while True:
            try:
                return _run(self._attempt(kwargs))
            except openai.BadRequestError as exc:
                if "response_format" in kwargs and _mentions_response_format(exc):
                    # Some self-hosted servers lack JSON mode; the prompt itself asks for JSON, so go on without.
                    log.info("llm server rejected response_format; continuing without JSON mode")
                    self._json_mode = False
                    del kwargs["response_format"]
                    continue
                raise LLMUnavailable("LLM endpoint rejected the request (400)") from exc
            except openai.APITimeoutError as exc:
                failures += 1
                timeouts += 1
                # A server that hung once will likely hang again; a second full timeout is the most we wait.
                if timeouts > 1 or failures > self.retries:
                    raise LLMUnavailable(f"LLM endpoint timed out after {self.timeout:g}s") from exc
                delay, reason = self._backoff(failures), "timeout"
            except openai.APIConnectionError as exc:
                failures += 1
                if failures > self.retries:
                    raise LLMUnavailable("cannot connect to the LLM endpoint") from exc
                delay, reason = self._backoff(failures), "connection error"
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status != 429 and status < 500:  # auth, not found, bad request: retrying will not help
                    raise LLMUnavailable(f"LLM endpoint answered {status}") from exc
                failures += 1
                if failures > self.retries:
                    raise LLMUnavailable(f"LLM endpoint answered {status} after {failures} attempts") from exc
                delay, reason = self._backoff(failures), f"status {status}"
                retry_after = _retry_after(exc.response.headers)
                if retry_after is not None:
                    if retry_after > self.max_retry_after:
                        raise LLMUnavailable(f"LLM endpoint asks to retry after {retry_after:g}s") from exc
                    delay = retry_after
            except openai.OpenAIError as exc:  # anything else the SDK raises still means "no answer"
                raise LLMUnavailable(f"LLM call failed: {type(exc).__name__}") from exc
            log.info("llm retry %d/%d after %s in %.2fs", failures, self.retries, reason, delay)
            self._sleep(delay)

    async def _attempt(self, kwargs: dict):
        """One request, all of it (connecting, sending, the headers, every byte of the body) within self.timeout.

        The HTTP client's timeouts bound each read, not the whole: a server that sends its answer a byte at a time
        held a draft for minutes with FEEDBACK_LLM_TIMEOUT=3 (pydantic/httpx2#557). Cancelling the async request at
        the deadline also closes its connection. max_retries=0: the SDK's own retries would multiply with ours."""
        client = openai.AsyncOpenAI(base_url=self._base_url, api_key=self._api_key, timeout=self.timeout,
                                    max_retries=0)
        try:
            return await asyncio.wait_for(client.chat.completions.create(**kwargs), self.timeout)
        except TimeoutError:
            request = httpx2.Request("POST", f"{str(self._base_url).rstrip('/')}/chat/completions")
            raise openai.APITimeoutError(request=request) from None
        finally:
            await client.close()

    def _backoff(self, attempt: int) -> float:
        return self.backoff_base * 2 ** (attempt - 1)


def _run(coro):
    """Run a coroutine to its end from synchronous code: here, or in a thread of its own when this thread already
    runs an event loop (asyncio.run refuses to nest)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="llm-request", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def repair_messages(error: LLMBadOutput) -> list[dict]:
    """The sent messages plus the bad answer and a correction request, for complete_json_messages()."""
    correction = (
        "Your previous reply could not be used: " + "; ".join(error.problems)
        + ". Reply again with only the corrected JSON object, following the same rules."
    )
    return [*error.messages, {"role": "assistant", "content": error.raw}, {"role": "user", "content": correction}]


def extract_json(raw: str) -> dict:
    """The single JSON object in a reply, tolerating ```json fences and prose before or after it."""
    text = raw.strip()
    candidates = [text] + [m.group(1).strip() for m in _FENCE.finditer(text)]
    for candidate in candidates:
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        return obj
    # Prose around the object: decode from the first brace and ignore whatever follows the object.
    # Only the first brace, so a broken outer object cannot pass off one of its inner objects as the answer.
    first = text.find("{")
    if first >= 0:
        try:
            obj, _ = json.JSONDecoder().raw_decode(text, first)
            if isinstance(obj, dict):
                return obj
        except ValueError:
            pass
    raise ValueError("reply is not valid JSON")


def _mentions_response_format(exc: openai.APIStatusError) -> bool:
    text = f"{exc.message} {json.dumps(exc.body) if exc.body is not None else ''}".lower()
    return "response_format" in text or "response format" in text or "json_object" in text


def _retry_after(headers) -> float | None:
    """Seconds from retry-after-ms (OpenAI) or Retry-After (seconds form; an HTTP date counts as long)."""
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after") is not None:
            return max(0.0, float(headers["retry-after"]))
    except ValueError:
        return float("inf")  # a date: no way to know it is small, so treat it as large
    return None
