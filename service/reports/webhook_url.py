"""Strict webhook URL checks: what a webhook URL may be, and where the connection may go.

A webhook URL named in an API request must never make this server talk to itself or its network (SSRF). Two
parsers must agree on the URL (the standard library's and urllib3's, which requests uses), so a URL that one
reads as `hooks.slack.com` and the other as `127.0.0.1` (`http://127.0.0.1:80\\@hooks.slack.com/`) is refused
before any allowlist is consulted. The host is resolved once; every address must be public, and the connection is
pinned to the checked address (see `PinnedAdapter`), so a second DNS answer cannot point it elsewhere. The operator's
own webhook (FEEDBACK_WEBHOOK_ALLOW_PRIVATE) may be on a private address, written as a name or an address.

requests' timeouts bound the connection and each read, not an answer as a whole: `Deadline` cuts the connections
of one delivery when its time is up, so a webhook dripping its answer cannot hold a worker.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import parse_url

MAX_URL_CHARS = 2048
# A DNS name: letters, digits and hyphens in dot-separated labels, and a top-level label with a letter, so the
# numeric spellings that resolvers read as addresses (2130706433, 0x7f.1, 127.1) are never taken for names.
HOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


class WebhookURLError(ValueError):
    pass


class PrivateAddressError(WebhookURLError):
    """A private, loopback or link-local address: refused unless it is the operator's own webhook and
    FEEDBACK_WEBHOOK_ALLOW_PRIVATE is set."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str  # the checked address the connection is pinned to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def parse_webhook_url(url, *, allow_private: bool = False) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL that both parsers read the same way; WebhookURLError otherwise. An
    address (not a name) must be public unless allow_private; numeric spellings of addresses are refused always."""
    if not isinstance(url, str) or not url:
        raise WebhookURLError("the webhook URL must be an http:// or https:// address")
    if len(url) > MAX_URL_CHARS:
        raise WebhookURLError(f"the webhook URL is longer than {MAX_URL_CHARS} characters")
    if "\\" in url:
        raise WebhookURLError("the webhook URL must not contain a backslash")
    if not PRINTABLE.match(url):
        raise WebhookURLError("the webhook URL must be printable ASCII without spaces (use punycode for names)")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise WebhookURLError("the webhook URL must be an http:// or https:// address")
    if "@" in parts.netloc:
        raise WebhookURLError("the webhook URL must not contain a user name or password")
    try:
        port = parts.port
        other = parse_url(url)
    except ValueError as exc:
        raise WebhookURLError(f"the webhook URL is malformed ({exc})") from None
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    port = port or (443 if scheme == "https" else 80)
    theirs = (other.scheme, (other.host or "").lower().strip("[]"), other.port or port, other.auth)
    if theirs != (scheme, host, port, None):
        raise WebhookURLError("the webhook URL is ambiguous (parsers disagree about its host)")
    literal = _ip(host)
    if literal is not None:
        if not allow_private and not _public(literal):
            raise PrivateAddressError(f"the webhook host {host} is a private, loopback or link-local address")
    elif not HOST_NAME.match(host):
        raise WebhookURLError(f"the webhook host {host!r} is not a valid DNS name")
    return scheme, host, port


def check_allowed(host: str, allowed_hosts) -> None:
    hosts = allowed_hosts.split(",") if isinstance(allowed_hosts, str) else allowed_hosts
    hosts = {h.strip().lower() for h in hosts if h and h.strip()}
    if host not in hosts:
        raise WebhookURLError(f"webhook host {host!r} is not allowed; allowed hosts: "
                              f"{', '.join(sorted(hosts)) or 'none'} (set FEEDBACK_WEBHOOK_ALLOWED_HOSTS)")


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (tests replace this function)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookURLError(f"the webhook host {host} could not be resolved ({exc})") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve_target(url: str, *, allow_private: bool = False, resolver=None) -> Target:
    """Check url and resolve its host once: every address must be public unless allow_private (an operator's own
    configuration, never an API caller's URL)."""
    scheme, host, port = parse_webhook_url(url, allow_private=allow_private)
    literal = _ip(host)
    addresses = [str(literal)] if literal is not None else (resolver or resolve_addresses)(host, port)
    if not addresses:
        raise WebhookURLError(f"the webhook host {host} has no address")
    if not allow_private:
        for address in addresses:
            ip = _ip(address)
            if ip is None or not _public(ip):
                raise PrivateAddressError(f"the webhook host {host} resolves to a private, loopback or link-local "
                                      f"address ({address})")
    return Target(url, scheme, host, port, addresses[0])


class Deadline:
    """Cuts the connections of one delivery when its time is up: a timer shuts their sockets, so a read waiting on a
    webhook that sends its answer a line at a time ends at once. Until the delivery ends it keeps cutting, so a
    connection that finished connecting just then is cut too."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = threading.Event()
        self._ended = threading.Event()
        self._connections: list = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="webhook-deadline", daemon=True)

    def __enter__(self) -> "Deadline":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._ended.set()
        self._thread.join(1)

    def watch(self, connection) -> None:
        with self._lock:
            self._connections.append(connection)

    def _run(self) -> None:
        if self._ended.wait(self.seconds):
            return
        self.expired.set()
        while True:
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                _shut(getattr(connection, "sock", None))
            if self._ended.wait(0.1):
                return


def _shut(sock) -> None:
    if sock is None:
        return
    try:  # the plain socket's shutdown, also under TLS: SSLSocket.shutdown would unwrap it under the reading thread
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # closed already
        pass


class _WatchedPool:
    deadline: Deadline | None = None

    def _new_conn(self):
        connection = super()._new_conn()
        if self.deadline is not None:
            self.deadline.watch(connection)
        return connection


class _WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    pass


class PinnedAdapter(HTTPAdapter):
    """Connects to the checked address whatever DNS says later; TLS still verifies the certificate for the host.
    With a Deadline, every connection it opens is cut when the deadline passes."""

    def __init__(self, target: Target, deadline: Deadline | None = None, **kwargs):
        self.target = target
        self.deadline = deadline
        super().__init__(max_retries=0, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params = dict(host_params, host=self.target.address)
        if host_params["scheme"] == "https":
            pool_kwargs = dict(pool_kwargs, server_hostname=self.target.host, assert_hostname=self.target.host)
        pool = self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)
        pool.deadline = self.deadline
        return pool


def _ip(text: str):
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _public(ip) -> bool:
    return ip.is_global and not ip.is_multicast and not ip.is_reserved
