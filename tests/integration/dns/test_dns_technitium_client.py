"""The Technitium API client against the stand-in: status checks over HTTP status, sessions, retries."""

from __future__ import annotations

import pytest

from homeops.dns.technitium import Credentials, TechnitiumClient, TechnitiumError, http_client
from tests.standins._http import Response

CREDS = Credentials(username="admin", password="s3cret")


@pytest.fixture
def api(technitium_factory):
    s = technitium_factory("technitium")
    s.add_primary_zone("viktorbarzin.lan")
    return s


@pytest.fixture
def client(api, monkeypatch):
    monkeypatch.setattr(TechnitiumClient, "retry_delays", (0.01, 0.01))
    http = http_client()
    c = TechnitiumClient("primary", api.url, http, CREDS, read_timeout=1.0)
    yield c
    c.logout()
    http.close()


def test_list_counts_and_logout(api, client):
    zones = client.list_zones()
    assert {z.name for z in zones if z.counted} == {"viktorbarzin.lan"}
    assert any(z.name == "" for z in zones) and any(z.internal for z in zones)
    client.logout()
    assert not api.sessions


def test_status_error_with_http_200_raises_with_message_not_stacktrace(api, client):
    api.errors["/api/zones/list"] = "Something broke."
    with pytest.raises(TechnitiumError) as err:
        client.list_zones()
    assert err.value.kind == "api" and err.value.message == "Something broke."
    assert "stackTrace" not in str(err.value) and "DnsServerCore" not in str(err.value)
    assert err.value.path == "/api/zones/list"


def test_invalid_token_twice_is_an_auth_error(api, client):
    client.list_zones()
    api.users = {"admin": "rotated"}  # the re-login after the expiry fails
    api.sessions.clear()
    with pytest.raises(TechnitiumError) as err:
        client.list_zones()
    assert err.value.kind == "auth" and "login failed" in err.value.message


def test_api_token_invalid_is_not_retried_with_login(api, monkeypatch):
    http = http_client()
    c = TechnitiumClient("p", api.url, http, Credentials(token="nope"))
    with pytest.raises(TechnitiumError) as err:
        c.list_zones()
    assert err.value.kind == "auth" and "API token" in err.value.message
    assert api.logins == 0
    http.close()


def test_2fa_required(api, client):
    api.server.forced = Response.json(
        {"server": "t", "status": "2fa-required", "errorMessage": "A TOTP is required."}
    )
    with pytest.raises(TechnitiumError) as err:
        client.list_zones()
    assert err.value.kind == "auth" and "API token" in err.value.message


@pytest.mark.parametrize(
    ("response", "kind", "text"),
    [
        (Response(404), "not_found", "endpoint not found"),
        (Response.text("<html>proxy</html>"), "protocol", "not JSON"),
        (Response.json({"server": "t"}), "protocol", "no status"),
        (Response.text("oops", 502), "transport", "HTTP 502"),
    ],
)
def test_bad_answers(api, client, response, kind, text):
    client.login()
    api.server.forced = response
    with pytest.raises(TechnitiumError) as err:
        client.list_zones()
    assert err.value.kind == kind and text in err.value.message


def test_reads_retry_5xx_writes_do_not(api, client):
    client.login()
    api.server.forced = Response.text("busy", 503)
    with pytest.raises(TechnitiumError):
        client.list_zones()
    assert len(api.server.seen("GET", "/api/zones/list")) == 3
    with pytest.raises(TechnitiumError):
        client.resync("viktorbarzin.lan")
    assert len(api.server.seen("POST", "/api/zones/resync")) == 1


def test_timeout(api, client):
    api.delays["/api/zones/list"] = 0.5
    client.login()
    with pytest.raises(TechnitiumError) as err:
        client.call("/api/zones/list", timeout=0.1, retry=False)
    assert err.value.kind == "timeout" and err.value.unreachable


def test_duplicate_create_message(api, client):
    with pytest.raises(TechnitiumError, match=r"Zone already exists: viktorbarzin\.lan"):
        client.create_secondary("viktorbarzin.lan", "10.96.0.53")
