"""Webhook targets: the URL's form at registration, every resolved address at every send."""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dispatch.errors import InvalidInput
from dispatch.webhooks import HttpSender, address_problem, parse_target

DATA = Path(__file__).resolve().parents[2] / "data" / "webhooks"
CERT, KEY = DATA / "hooks-test.crt", DATA / "hooks-test.key"  # self-signed, for hooks.test


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/x", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("https://user:pw@example.com/", "credentials"),
        ("https:///nohost", "needs a host"),
        ("https://example.com/#frag", "fragment"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com:99999/", "valid URL"),
        ("https://127.0.0.1/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:192.168.1.1]/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://localhost:8000/", "localhost"),
        ("https://example.com/" + "a" * 2000, "at most"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, words: str) -> None:
    """Each refused URL names what is wrong with it."""
    with pytest.raises(InvalidInput, match=words):
        parse_target(url, allow_private=False)


def test_good_urls_are_taken_apart() -> None:
    """Host in lower case, default ports, path and query kept."""
    t = parse_target("HTTPS://Hooks.Example.com/in?x=1", allow_private=False)
    assert (t.scheme, t.host, t.port, t.target) == ("https", "hooks.example.com", 443, "/in?x=1")
    assert t.url_for("93.184.216.34") == "https://93.184.216.34:443/in?x=1"
    assert t.host_header == "hooks.example.com"
    local = parse_target("http://127.0.0.1:9000", allow_private=True)
    assert local.target == "/" and local.host_header == "127.0.0.1:9000"


def test_allow_private_admits_private_but_never_multicast() -> None:
    """The setting opens private and loopback ranges only."""
    assert address_problem("10.0.0.1", allow_private=True) is None
    assert address_problem("127.0.0.1", allow_private=True) is None
    assert address_problem("239.1.1.1", allow_private=True) is not None
    assert address_problem("8.8.8.8", allow_private=False) is None
    assert address_problem("100.64.0.1", allow_private=False) is not None  # shared (CGNAT)


def test_every_send_checks_what_the_name_resolves_to_now() -> None:
    """A public name that resolves to a private address at send time is refused, unsent."""
    answers = {"hooks.example.com": ["93.184.216.34", "10.0.0.5"]}
    sender = HttpSender(timeout_s=1, resolver=lambda host, port: answers[host])
    try:
        result = sender.send("https://hooks.example.com/in", {}, b"{}")
        assert result.status_code is None and result.error is not None
        assert "10.0.0.5" in result.error and "private" in result.error
        answers["hooks.example.com"] = []
        assert "no address" in (sender.send("https://hooks.example.com/", {}, b"{}").error or "")
    finally:
        sender.close()


@contextlib.contextmanager
def tls_receiver() -> Iterator[tuple[int, list[str]]]:
    """An HTTPS server on loopback with the certificate of ``hooks.test``; yields its port
    and the Host headers it saw."""
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            hosts.append(self.headers.get("host", ""))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, KEY)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hosts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_https_goes_to_the_checked_address_and_verifies_the_host_name() -> None:
    """The sender connects to the address it checked, yet TLS verifies the URL's host name
    (SNI) and the Host header names it: a certificate for another name is refused."""
    trusted = ssl.create_default_context(cafile=str(CERT))
    sender = HttpSender(
        timeout_s=5, allow_private=True, resolver=lambda h, p: ["127.0.0.1"], verify=trusted
    )
    try:
        with tls_receiver() as (port, hosts):
            ok = sender.send(f"https://hooks.test:{port}/in", {}, b"{}")
            assert ok.status_code == 204, ok.error
            assert hosts == [f"hooks.test:{port}"]
            wrong = sender.send(f"https://other.test:{port}/in", {}, b"{}")
            assert wrong.status_code is None and "certificate" in (wrong.error or "").lower()
            assert len(hosts) == 1
    finally:
        sender.close()
