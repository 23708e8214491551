"""The nginx configuration in docs/operating.md, run as written (TLS and ports swapped for local
ones) in front of a real `serve`: it keeps anonymous answers, revalidates them with
If-None-Match, and never serves a signed-in reader from its cache nor stores their answers.
Skipped where nginx is not installed (Debian: `apt-get install nginx`)."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, running_proxy, running_serve

DOCS = Path(__file__).resolve().parents[1] / "docs" / "operating.md"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="needs nginx")


def documented_nginx(site_port: int, port: int, folder: Path) -> str:
    """The ```nginx block of docs/operating.md, made to run here without certificates."""
    block = re.search(r"```nginx\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, "docs/operating.md lost its nginx example"
    text = block.group(1)
    text = text.replace("/var/cache/nginx/dailypapers", str(folder / "cache"))
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    text = text.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{site_port}")
    text = "\n".join(
        line for line in text.splitlines() if not re.match(r"\s*(ssl_certificate|http2 on)", line)
    )
    temp = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    user = "user root;" if os.geteuid() == 0 else ""
    return (
        f"{user} daemon off; pid {folder / 'nginx.pid'}; error_log {folder / 'error.log'};\n"
        f"events {{}}\nhttp {{ access_log off; {temp} uwsgi_temp_path {folder / 'uwsgi'}; "
        f"scgi_temp_path {folder / 'scgi'};\n{text}\n}}\n"
    )


@pytest.fixture
def proxied(tmp_path):
    env = {
        **os.environ,
        "DAILYPAPERS_DATA_DIR": str(tmp_path / "data"),
        "DAILYPAPERS_PROXY_CACHE_SECONDS": "1",
        "DAILYPAPERS_TRUSTED_PROXIES": "127.0.0.1",
    }
    with running_serve(env) as site:
        port = free_port()
        folder = tmp_path / "nginx"
        folder.mkdir()
        conf = folder / "nginx.conf"
        conf.write_text(documented_nginx(int(site.rsplit(":", 1)[1]), port, folder))
        check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        with running_proxy([NGINX, "-c", str(conf)], f"http://127.0.0.1:{port}") as url:
            yield url


def status(response) -> str:
    return response.headers.get("x-cache-status", "")


def test_the_documented_nginx_keeps_anonymous_pages_and_revalidates(proxied):
    with httpx.Client(base_url=proxied) as client:
        first = client.get("/api/daily_papers")
        assert status(first) == "MISS" and first.headers["cache-control"] == "public, max-age=1"
        kept = client.get("/api/daily_papers")
        assert status(kept) == "HIT" and kept.content == first.content
        time.sleep(2.5)  # past max-age (nginx counts whole seconds): asks with If-None-Match
        again = client.get("/api/daily_papers")
        assert status(again) == "REVALIDATED" and again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]


def test_the_documented_nginx_keeps_signed_in_readers_out_of_the_cache(proxied):
    cookie = {"Cookie": "dailypapers_session=anything"}
    with httpx.Client(base_url=proxied) as client:
        client.get("/")  # the anonymous copy is kept...
        assert status(client.get("/")) == "HIT"
        mine = client.get("/", headers=cookie)  # ...and never handed to a session
        assert status(mine) == "BYPASS"
        assert mine.headers["cache-control"] == "private, no-store" and "etag" not in mine.headers
        # A session's answer is not stored: the next anonymous reader of a new URL misses.
        assert status(client.get("/papers/trending", headers=cookie)) == "BYPASS"
        assert status(client.get("/papers/trending")) == "MISS"
    # Nor an answer that sets a cookie (each time a new browser, without the cookie).
    for _ in range(2):
        login = httpx.get(proxied + "/login")
        assert status(login) == "MISS" and "set-cookie" in login.headers
