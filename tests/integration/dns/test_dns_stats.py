"""`homeops dns stats` against Technitium stand-ins and the real Pushgateway."""

from __future__ import annotations

from tests.services._common import free_port


def test_stats_sums_and_dga_pushed_with_original_help(trio, dns_cli, pushgateway):
    job = "dns-stats-test"
    trio.tertiary.stats["totalQueries"] = 75
    dns_cli.configure(trio.instances(), pushgateway=pushgateway.url, stats_job=job)
    result = dns_cli.run("stats", "--json")
    assert result.exit_code == 0, result.stderr
    doc = dns_cli.json(result)
    assert doc["totals"]["totalQueries"] == 925 + 925 + 75
    assert doc["totals"]["totalNxDomain"] == 270 and doc["totals"]["totalBlocked"] == 147
    assert doc["dga_suspects"] == 2
    assert doc["dga_names"] == ["a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.net", "xkcdqwrtzplmnbv.com"]
    assert doc["pushed"] is True
    text = pushgateway.metrics_text()
    assert "# HELP dns_anomaly_total_queries Total DNS queries in last hour" in text
    assert "# TYPE dns_anomaly_total_queries gauge" in text
    assert f'dns_anomaly_total_queries{{instance="",job="{job}"}} 1925' in text
    assert f'dns_anomaly_server_failure{{instance="",job="{job}"}} 3' in text
    assert f'dns_anomaly_dga_suspects{{instance="",job="{job}"}} 2' in text
    assert f'dns_anomaly_check_timestamp{{instance="",job="{job}"}}' in text
    # The real routes, not the original's unmapped /api/stats/get.
    assert trio.primary.server.seen("GET", "/api/dashboard/stats/get")
    assert not trio.primary.server.seen(path="/api/stats/get")


def test_primary_scope(trio, dns_cli):
    dns_cli.configure(trio.instances(), stats_scope="primary")
    doc = dns_cli.json(dns_cli.run("stats", "--no-push", "--json"))
    assert [i["name"] for i in doc["instances"]] == ["primary"] and doc["totals"]["totalQueries"] == 925


def test_invalid_token_on_one_instance_exits_4_and_pushes_nothing(trio, dns_cli, pushgateway):
    job = "dns-stats-token-test"
    for s in trio.all[:2]:
        s.api_tokens.add("tok")
    dns_cli.monkeypatch.setenv("TECH_TOKEN", "tok")
    dns_cli.configure(
        trio.instances(), api_token="env:TECH_TOKEN", pushgateway=pushgateway.url, stats_job=job
    )
    result = dns_cli.run("stats", "--json")
    assert result.exit_code == 4
    doc = dns_cli.json(result)
    assert doc["pushed"] is False
    bad = next(i for i in doc["instances"] if i["name"] == "technitium-tertiary")
    assert bad["ok"] is False and "Invalid token" in bad["error"]
    assert job not in pushgateway.metrics_text()
    assert "nothing pushed" in result.stderr and "tok" not in result.stderr.replace("token", "")


def test_unknown_route_404_is_reported(trio, dns_cli):
    # A v14.3 API answers an unmapped route with HTTP 404 and an empty body.
    trio.primary.errors.clear()
    from tests.standins._http import Response

    trio.primary.server.forced = Response(404)
    dns_cli.configure(trio.instances(), stats_scope="primary")
    result = dns_cli.run("stats", "--no-push", "--json")
    assert result.exit_code == 4
    assert "endpoint not found" in dns_cli.json(result)["instances"][0]["error"]


def test_pushgateway_stopped_exits_4_with_pushed_false(trio, dns_cli):
    dns_cli.configure(trio.instances(), pushgateway=f"http://127.0.0.1:{free_port()}")
    result = dns_cli.run("stats", "--json")
    assert result.exit_code == 4
    assert dns_cli.json(result)["pushed"] is False
