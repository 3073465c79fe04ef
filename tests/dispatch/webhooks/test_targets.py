"""Webhook targets: the URL's form at registration, every resolved address at every send."""

from __future__ import annotations

import pytest

from dispatch.errors import InvalidInput
from dispatch.webhooks import HttpSender, address_problem, parse_target


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
