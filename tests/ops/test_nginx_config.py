"""deploy/nginx/opex-crm.conf: accepted by Debian's nginx, and what it promises in front of the app."""

from __future__ import annotations

from pathlib import Path

from tests.nginx import SHIPPED, check_config, require_nginx, running_nginx
from tests.servers import running_server


def test_nginx_accepts_the_shipped_config(tmp_path: Path) -> None:
    require_nginx()
    result = check_config(tmp_path, upstreams=[8080])
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_the_config_sets_no_security_header_that_the_app_already_sends() -> None:
    text = SHIPPED.read_text().lower()
    for header in (
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "strict-transport-security",
    ):
        assert f"add_header {header}" not in text, header
    assert "client_max_body_size 20m;" in text
    assert "proxy_read_timeout 1h;" in text  # the websocket lives as long as the tab


def test_https_in_front_of_one_instance(tmp_path: Path, clean_db: None) -> None:
    require_nginx()
    with (
        running_server(SCHEDULER_ENABLED="false") as server,
        running_nginx(tmp_path, [int(server.url.rsplit(":", 1)[1])]) as nginx,
    ):
        status, headers, _ = nginx.request("/institutions?page=2", https=False)
        assert status == 301
        assert headers["location"] == "https://crm.example.com/institutions?page=2"

        status, headers, body = nginx.request("/api/health")
        assert status == 200 and b'"status":"ok"' in body.replace(b" ", b"")
        assert headers["set-cookie"].startswith("opex_route=")
        assert "Secure" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]

        status, headers, _ = nginx.request("/login")
        assert status == 200
        for name in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
            assert name in headers and "\n" not in headers[name], name  # sent once, by the app

        static = next(line.split('"')[1] for line in _page(nginx).splitlines() if "/_nicegui/" in line and '"' in line)
        status, headers, _ = nginx.request(static.split("?")[0])
        assert status == 200, static
        assert headers["cache-control"] == "public, max-age=31536000, immutable"

        # Up to 20 MB reaches the application (which answers 401 here: no token); more is refused by nginx.
        status, headers, _ = nginx.request("/api/institutions/import", method="POST", body=b"x" * (19 * 2**20))
        assert status == 401 and "x-upstream" in headers
        status, headers, _ = nginx.request("/api/institutions/import", method="POST", body=b"x" * (21 * 2**20))
        assert status == 413 and "x-upstream" not in headers


def _page(nginx: object) -> str:
    from tests.nginx import Nginx

    assert isinstance(nginx, Nginx)
    return nginx.request("/login")[2].decode()
