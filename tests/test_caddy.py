"""The Caddy configuration in docs/operating.md, run as written (the site address made a local
http:// one, and without the two `cache` lines, as the docs say for a Caddy without the
cache-handler module, which Debian's lacks) in front of a real `serve`: the client address the
site counts is the one Caddy saw, whatever X-Forwarded-For a client sends, so a rate limit
holds; Caddy's request id reaches the site's logs and answers; answers are compressed; /metrics
is not served to the world. Skipped where caddy is not installed (`apt-get install caddy`)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, running_proxy, running_serve

DOCS = Path(__file__).resolve().parents[1] / "docs" / "operating.md"
CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(CADDY is None, reason="needs caddy")
SEARCHES_PER_MINUTE = 3
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def documented_caddyfile(site_port: int, port: int) -> str:
    """The ```caddyfile block of docs/operating.md, without the cache module's lines, made to
    listen on a local port over plain HTTP with no admin endpoint."""
    block = re.search(r"```caddyfile\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None, "docs/operating.md lost its Caddy example"
    text = block.group(1)
    kept = [line for line in text.splitlines() if not re.fullmatch(r"\s*(order )?cache.*", line)]
    text = "\n".join(kept).replace("papers.example.org {", f"http://127.0.0.1:{port} {{")
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{site_port}")
    assert f"http://127.0.0.1:{port} {{" in text and f"127.0.0.1:{site_port}" in text
    return text.replace("{\n", "{\n\tadmin off\n", 1)  # the global options block comes first


@pytest.fixture
def caddy(tmp_path):
    env = {
        **os.environ,
        "DAILYPAPERS_DATA_DIR": str(tmp_path / "data"),
        "DAILYPAPERS_TRUSTED_PROXIES": "127.0.0.1,::1",
        "DAILYPAPERS_REQUEST_ID_HEADER": "X-Request-ID",
        "DAILYPAPERS_RATE_SEARCH": f"{SEARCHES_PER_MINUTE}/minute",
        "DAILYPAPERS_METRICS_ENABLED": "true",
    }
    with running_serve(env) as site:
        port = free_port()
        conf = tmp_path / "Caddyfile"
        conf.write_text(documented_caddyfile(int(site.rsplit(":", 1)[1]), port))
        home = {
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path),
        }
        caddy_env = {**os.environ, **home}
        check = subprocess.run(
            [CADDY, "validate", "--config", str(conf), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            env=caddy_env,
        )
        assert check.returncode == 0, check.stderr
        command = [CADDY, "run", "--config", str(conf), "--adapter", "caddyfile"]
        with running_proxy(command, f"http://127.0.0.1:{port}", caddy_env) as url:
            yield url, site


def test_the_documented_caddy_forwards_the_address_a_rate_limit_can_trust(caddy):
    proxied, direct = caddy
    # Each request claims another address; Caddy replaces the claim with the address it saw,
    # so the site counts them all against one client and the limit holds.
    statuses = [
        httpx.get(
            proxied + "/api/papers/search",
            params={"q": f"attention {n}"},  # each its own query: none from the page cache
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(SEARCHES_PER_MINUTE + 2)
    ]
    assert statuses == [200] * SEARCHES_PER_MINUTE + [429, 429]
    # The same claims sent straight from loopback (a trusted proxy's address) are believed:
    # each its own client, all admitted. So it is Caddy's rewrite that kept the limit above.
    believed = [
        httpx.get(
            direct + "/api/papers/search",
            params={"q": f"direct {n}"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        ).status_code
        for n in range(SEARCHES_PER_MINUTE + 2)
    ]
    assert believed == [200] * (SEARCHES_PER_MINUTE + 2)
    # Caddy's request id is the site's: in the answer, the same the site logged under.
    answer = httpx.get(proxied + "/papers")
    assert answer.status_code == 200 and UUID.fullmatch(answer.headers["x-request-id"])
    assert answer.headers["cache-control"] == "public, max-age=30"


def test_the_documented_caddy_compresses_and_hides_the_metrics(caddy):
    proxied, direct = caddy
    page = httpx.get(proxied + "/papers", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip" and "<html" in page.text
    assert httpx.get(proxied + "/metrics").status_code == 404
    assert httpx.get(direct + "/metrics").status_code == 200  # loopback, not through Caddy
