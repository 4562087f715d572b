"""Strict webhook URL checks: what a webhook URL may be, and where the connection may go.

A webhook URL named in an API request must never make this server talk to itself or its network (SSRF). Two
parsers must agree on the URL (the standard library's and urllib3's, which requests uses), so a URL that one
reads as `hooks.slack.com` and the other as `127.0.0.1` (`http://127.0.0.1:80\\@hooks.slack.com/`) is refused
before any allowlist is consulted. The host is resolved once; every address must be public, and the connection is
pinned to the checked address (see `PinnedAdapter`), so a second DNS answer cannot point it elsewhere.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

MAX_URL_CHARS = 2048
# A DNS name: letters, digits and hyphens in dot-separated labels, and a top-level label with a letter, so the
# numeric spellings that resolvers read as addresses (2130706433, 0x7f.1, 127.1) are never taken for names.
HOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


class WebhookURLError(ValueError):
    pass


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


def parse_webhook_url(url) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL that both parsers read the same way; WebhookURLError otherwise."""
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
    if (other.scheme, (other.host or "").lower().strip("[]"), other.port or port, other.auth) != (scheme, host, port, None):
        raise WebhookURLError("the webhook URL is ambiguous (parsers disagree about its host)")
    literal = _ip(host)
    if literal is not None:
        if not _public(literal):
            raise WebhookURLError(f"the webhook host {host} is a private, loopback or link-local address")
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
    scheme, host, port = parse_webhook_url(url)
    literal = _ip(host)
    addresses = [str(literal)] if literal is not None else (resolver or resolve_addresses)(host, port)
    if not addresses:
        raise WebhookURLError(f"the webhook host {host} has no address")
    if not allow_private:
        for address in addresses:
            ip = _ip(address)
            if ip is None or not _public(ip):
                raise WebhookURLError(f"the webhook host {host} resolves to a private, loopback or link-local "
                                      f"address ({address})")
    return Target(url, scheme, host, port, addresses[0])


class PinnedAdapter(HTTPAdapter):
    """Connects to the checked address whatever DNS says later; TLS still verifies the certificate for the host."""

    def __init__(self, target: Target, **kwargs):
        self.target = target
        super().__init__(max_retries=0, **kwargs)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params = dict(host_params, host=self.target.address)
        if host_params["scheme"] == "https":
            pool_kwargs = dict(pool_kwargs, server_hostname=self.target.host, assert_hostname=self.target.host)
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def _ip(text: str):
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _public(ip) -> bool:
    return ip.is_global and not ip.is_multicast and not ip.is_reserved
