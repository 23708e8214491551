"""The digest in a real browser (Debian's chromium through Playwright) against a real
`dailypapers serve`, with a real SMTP server (aiosmtpd) catching the mail: subscribe from the
header, confirm from the mail, get a digest from `dailypapers digest send`, unsubscribe from
its link."""

import os
import re
import subprocess
import sys
import time

import pytest

from .conftest import running_serve
from .smtpsink import SmtpSink
from .test_browser import shoot
from .test_digests import SECRET, daily_list, text_of

pytestmark = pytest.mark.browser


def wait_for_mail(sink: SmtpSink, address: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(sink.to(address)) < count:
        assert time.monotonic() < deadline, f"no mail number {count} for {address}"
        time.sleep(0.05)


def link(message, path: str) -> str:
    found = re.search(rf"(http://127\.0\.0\.1:\d+{path}\S+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


@pytest.fixture(scope="module")
def mailed_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digest-site")
    papers = folder / "papers.json"
    papers.write_bytes(daily_list())
    with SmtpSink() as sink:
        env = {
            **os.environ,
            "DAILYPAPERS_DATABASE_URL": f"sqlite:///{folder / 'site.db'}",
            "DAILYPAPERS_DATA_DIR": str(folder),
            "DAILYPAPERS_SECRET_KEY": SECRET,
            "DAILYPAPERS_SMTP_HOST": "127.0.0.1",
            "DAILYPAPERS_SMTP_PORT": str(sink.port),
            "DAILYPAPERS_SMTP_SECURITY": "none",
            "DAILYPAPERS_SMTP_FROM": "papers@example.org",
            "DAILYPAPERS_SMTP_RATE": "0",
        }
        cli = [sys.executable, "-m", "dailypapers"]
        subprocess.run(
            [*cli, "ingest", "hf-daily", str(papers)], env=env, check=True, capture_output=True
        )
        with running_serve(env) as url:
            yield url, sink, {**env, "DAILYPAPERS_BASE_URL": url}


def test_subscribe_confirm_receive_and_unsubscribe(mailed_site, browser):  # noqa: F811
    site, sink, env = mailed_site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site + "/papers")
    header = page.locator("header form.subscribe")
    header.locator("input[name=email]").fill("ada@example.org")
    shoot(page, "digest-header-desktop")
    header.get_by_role("button", name="Subscribe").click()
    # A first visit has no session yet: the page asks once more, then sends.
    assert "Confirm once more" in page.locator(".notice").inner_text()
    assert page.locator("#subscribe-email").input_value() == "ada@example.org"
    assert sink.count() == 0
    page.get_by_role("button", name="Send the confirmation link").click()
    assert "Check your inbox" in page.locator(".flash").inner_text()

    wait_for_mail(sink, "ada@example.org", 1)
    page.goto(link(sink.to("ada@example.org")[0], "/digest/confirm/"))
    page.get_by_role("button", name="Confirm the subscription").click()
    assert page.locator("h1").inner_text() == "You are subscribed"

    sent = subprocess.run(
        [sys.executable, "-m", "dailypapers", "digest", "send", "--date", "2026-03-05"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr
    wait_for_mail(sink, "ada@example.org", 2)
    digest = sink.to("ada@example.org")[1]
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The mail itself, light and dark: the dark-mode rules win over the inlined colours.
    body = digest.get_body(("html",)).get_content()
    for scheme, sheet in (("light", "rgb(255, 255, 255)"), ("dark", "rgb(30, 30, 30)")):
        reader = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)
        mail_page = reader.new_page()
        mail_page.set_content(body)
        colour = mail_page.evaluate(
            "getComputedStyle(document.querySelector('.sheet')).backgroundColor"
        )
        assert colour == sheet, scheme
        assert mail_page.evaluate("document.documentElement.scrollWidth") <= 390
        shoot(mail_page, f"digest-mail-phone-{scheme}")
        reader.close()

    page.goto(link(digest, "/digest/manage/"))
    assert page.locator(".digest-history li").first.inner_text() == "2026-03-05: sent"
    page.goto(digest["List-Unsubscribe"][1:-1])
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    context.close()


def test_subscribe_page_on_a_phone_in_dark_mode(mailed_site, browser):  # noqa: F811
    site, _sink, _env = mailed_site
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, color_scheme="dark"
    )
    page = phone.new_page()
    page.goto(site + "/papers")
    assert page.locator("header form.subscribe input[name=email]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "digest-header-phone-dark")
    page.goto(site + "/subscribe")
    shoot(page, "digest-subscribe-phone-dark")
    phone.close()
