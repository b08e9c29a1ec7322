"""Debian's nginx on loopback with the shipped `deploy/nginx/opex-crm.conf`, for tests.

The site file is used as shipped except for what a test machine cannot have: its ports (free ones on
127.0.0.1, no IPv6), the certificate (a self-signed one made here instead of Let's Encrypt's), the log
paths, the upstream servers (the test's instances), and one debugging header, `X-Upstream`, naming the
instance that answered.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port

SHIPPED = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "opex-crm.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SERVER_NAME = "crm.example.com"


def require_nginx() -> None:
    if not os.access(NGINX, os.X_OK):
        pytest.skip("nginx is not installed (tests/run.sh installs Debian's nginx when run as root)")


@dataclass
class Nginx:
    http_port: int
    https_port: int
    directory: Path

    def request(
        self,
        path: str,
        *,
        cookie: str | None = None,
        method: str = "GET",
        body: bytes | None = None,
        https: bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request with Host: crm.example.com; returns status, headers (lower-case names), body."""
        connection: http.client.HTTPConnection
        if https:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=10)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        headers = {"Host": SERVER_NAME, **({"Cookie": cookie} if cookie else {})}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            names: dict[str, str] = {}
            for name, value in response.getheaders():
                key = name.lower()
                names[key] = f"{names[key]}\n{value}" if key in names else value
            return response.status, names, response.read()
        finally:
            connection.close()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            f"/CN={SERVER_NAME}",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def site_config(directory: Path, *, http_port: int, https_port: int, upstreams: list[int]) -> str:
    """The shipped site file with the test machine's ports, certificate, logs and upstreams."""
    cert, key = self_signed_certificate(directory)
    text = SHIPPED.read_text()
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{http_port};\n",
        "    listen [::]:80;\n": "",
        "    listen 443 ssl http2;\n": f"    listen 127.0.0.1:{https_port} ssl http2;\n",
        "    listen [::]:443 ssl http2;\n": "",
        f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem": str(cert),
        f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem": str(key),
        "/var/log/nginx/opex-crm.access.log": str(directory / "access.log"),
        "/var/log/nginx/opex-crm.error.log": str(directory / "error.log"),
        "    server 127.0.0.1:8080;\n    # server 127.0.0.1:8081;\n": "".join(
            f"    server 127.0.0.1:{port};\n" for port in upstreams
        ),
        "    add_header Set-Cookie $opex_route_cookie always;\n\n    proxy_http_version": (
            "    add_header Set-Cookie $opex_route_cookie always;\n    add_header X-Upstream $upstream_addr always;\n"
            "\n    proxy_http_version"
        ),
    }
    for old, new in replacements.items():
        assert old in text, f"the shipped nginx config changed: {old!r} is no longer there"
        text = text.replace(old, new)
    return text


def main_config(directory: Path, site: Path) -> Path:
    """nginx.conf around the site file, everything writable kept in `directory`."""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = directory / "nginx.conf"
    config.write_text(f"""{user}worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"};
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
{temp}
    include {site};
}}
""")
    return config


def check_config(directory: Path, upstreams: list[int]) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the shipped site file."""
    site = directory / "opex-crm.conf"
    site.write_text(site_config(directory, http_port=free_port(), https_port=free_port(), upstreams=upstreams))
    return subprocess.run(
        [NGINX, "-t", "-c", str(main_config(directory, site))], capture_output=True, text=True, timeout=30, check=False
    )


@contextlib.contextmanager
def running_nginx(directory: Path, upstreams: list[int]) -> Iterator[Nginx]:
    http_port, https_port = free_port(), free_port()
    site = directory / "opex-crm.conf"
    site.write_text(site_config(directory, http_port=http_port, https_port=https_port, upstreams=upstreams))
    process = subprocess.Popen(
        [NGINX, "-c", str(main_config(directory, site)), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    nginx = Nginx(http_port, https_port, directory)
    try:
        for _ in range(100):
            try:
                nginx.request("/api/health")
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {process.stdout.read() if process.stdout else ''!r}") from None
                time.sleep(0.05)
        yield nginx
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
