"""Email digests end to end with a real SMTP server (aiosmtpd on 127.0.0.1), on SQLite and
PostgreSQL: subscribing from the header (double opt-in), confirming, the digest mail and its
RFC 8058 headers, one-click unsubscribing, no paper twice, failures and retries, settings,
previews, the admin view, and a `digest send` killed with SIGKILL in the middle of 500 mails."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.cli import cli
from dailypapers.config import ConfigError, load_config
from dailypapers.domain.accounts import hash_password
from dailypapers.domain.digests import ACTIVE, DigestItem, period_of
from dailypapers.domain.errors import Conflict
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.services import mail
from dailypapers.services.digests import run_digests
from dailypapers.services.subscriptions import MANAGE, sign
from dailypapers.storage.digests import (
    claim_digest,
    freeze_digest,
    get_digest,
    items_of,
    queue_digests,
)
from dailypapers.storage.schema import digest_items, digests, subscriptions
from dailypapers.storage.subscriptions import add_subscription, find_subscription
from dailypapers.storage.users import create_user
from dailypapers.web.app import create_app

from .smtpsink import SmtpSink

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
NOW = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
DAY = date(2026, 3, 5)
PASSWORD = "a long enough password"
TOPICS = [
    "Sparse attention",
    "Protein folding",
    "Robot grasping",
    "Diffusion models",
    "Speech recognition",
    "Graph neural networks",
    "Code generation",
    "Reinforcement learning",
    "Machine translation",
    "Image segmentation",
    "Retrieval augmentation",
    "Weather forecasting",
]


def daily_list(day: str = "2026-03-04") -> bytes:
    """Twelve papers on one day's list, upvotes 120, 110, ... so trending ranks them in order."""
    items = []
    for n, topic in enumerate(TOPICS):
        arxiv_id = f"2603.{n + 1:05d}"
        items.append(
            {
                "paper": {
                    "id": arxiv_id,
                    "title": f"{topic} at scale",
                    "summary": f"We study {topic.lower()} and report results on public data.",
                    "authors": [{"name": f"Author {n}"}, {"name": "Ada Lovelace"}],
                    "upvotes": 120 - 10 * n,
                    "publishedAt": "2026-03-03T10:00:00.000Z",
                },
                "publishedAt": f"{day}T00:00:00.000Z",
                "title": f"{topic} at scale",
                "submittedBy": {"fullname": "AK", "user": "akhaliq"},
            }
        )
    return json.dumps(items).encode()


def title_of(n: int) -> str:
    return f"{TOPICS[n]} at scale"


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


def mail_settings(sink: SmtpSink, **extra: object) -> dict[str, str]:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_security": "none",
        "smtp_from": "papers@example.org",
        "smtp_rate": 0,
        "smtp_timeout": 10,
        "base_url": "http://testserver",
        "secret_key": SECRET,
        **extra,
    }
    return {f"DAILYPAPERS_{k.upper()}": str(v) for k, v in values.items()}


def make_config(sink: SmtpSink, **extra: object):
    return load_config(environ=mail_settings(sink, **extra), env_file=None)


@pytest.fixture
def catalog(store):
    ingest_daily_json(store, daily_list(), "hf")
    return store


def make_app(store, config, now: datetime = NOW):
    app = create_app(config, store)
    app.state.site.clock = lambda: now
    return app


def run(store, config, day: date = DAY, now: datetime = NOW, **options):
    return run_digests(store, config, lambda: now, day=day, **options)


def csrf_of(response) -> str:
    return html.fromstring(response.text).xpath("//input[@name='csrf_token']/@value")[0]


def link_in(message, pattern: str) -> str:
    """The path of the first http://testserver link matching `pattern` in the text part."""
    text = message.get_body(("plain",)).get_content()
    found = re.search(rf"http://testserver({pattern}\S+)", text)
    assert found, text
    return found.group(1)


def subscribe_and_confirm(app, sink: SmtpSink, address: str, frequency: str = "daily") -> None:
    client = TestClient(app)
    form = client.get("/subscribe")
    sent = client.post(
        "/subscribe",
        data={"email": address, "frequency": frequency, "csrf_token": csrf_of(form)},
    )
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    confirmation = sink.to(address.lower())[-1]
    path = link_in(confirmation, "/digest/confirm/")
    page = client.get(path)
    assert page.status_code == 200
    done = client.post(path, data={"csrf_token": csrf_of(page)})
    assert done.status_code == 200 and "You are subscribed" in done.text


def subscription(store, address: str):
    with store.connect() as conn:
        return find_subscription(conn, address)


def digest_rows(store) -> list[dict]:
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(digests, subscriptions.c.email).join(subscriptions).order_by(digests.c.id)
        )
        return [dict(row._mapping) for row in rows]


def text_of(message) -> str:
    """The plain-text part with the wire's CRLF line ends as \n."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def titles_in(message) -> list[str]:
    text = text_of(message)
    return re.findall(r"^\d+\. (.+)$", text, re.M)


# --- the whole way through ---------------------------------------------------------------------


def test_subscribe_confirm_digest_unsubscribe_and_no_paper_twice(catalog, sink):
    config = make_config(sink)
    app = make_app(catalog, config)
    visitor = TestClient(app)

    # The header of every page has the form; posted from a cached page (no token) it asks
    # once more and sends nothing.
    header = html.fromstring(visitor.get("/papers").text)
    assert header.xpath("//header//form[@action='/subscribe']//input[@name='email']")
    again = visitor.post("/subscribe", data={"email": "ada@example.org", "csrf_token": ""})
    assert again.status_code == 200 and "Confirm once more" in again.text
    assert 'value="ada@example.org"' in again.text and sink.count() == 0

    sent = visitor.post(
        "/subscribe",
        data={"email": "Ada@Example.org", "frequency": "daily", "csrf_token": csrf_of(again)},
    )
    assert "Check your inbox: if Ada@Example.org can receive mail" in sent.text
    [confirmation] = sink.to("ada@example.org")
    assert confirmation["Subject"] == "Confirm your subscription to Daily Papers"
    assert confirmation.get_content_type() == "multipart/alternative"
    path = link_in(confirmation, "/digest/confirm/")
    assert path in confirmation.get_body(("html",)).get_content()

    # Pending: a digest run sends it nothing.
    report = run(catalog, config)
    assert sink.count() == 1 and report.outcomes == {} and report.queued == 0

    # Following the link shows a button (a mail scanner's GET confirms nothing); pressing it
    # confirms.
    page = visitor.get(path)
    assert "Confirm the subscription" in page.text
    assert subscription(catalog, "ada@example.org").status == "pending"
    done = visitor.post(path, data={"csrf_token": csrf_of(page)})
    assert "You are subscribed" in done.text
    assert subscription(catalog, "ada@example.org").status == ACTIVE
    subscribe_and_confirm(app, sink, "bob@example.org")

    report = run(catalog, config)
    assert report.queued == 2 and report.outcomes == {"sent": 2} and report.clean
    assert sink.count() == 4
    for address in ("ada@example.org", "bob@example.org"):
        digest = sink.to(address)[-1]
        sub = subscription(catalog, address)
        assert digest["Subject"] == "Daily Papers: 10 papers for Thursday 5 March 2026"
        assert digest["From"].addresses[0].display_name == "Daily Papers"
        assert digest["From"].addresses[0].addr_spec == "papers@example.org"
        assert digest["Message-ID"] == f"<digest.{sub.id}.2026-03-05@example.org>"
        assert parsedate_to_datetime(digest["Date"]) == NOW
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = digest["List-Unsubscribe"]
        assert re.fullmatch(r"<http://testserver/digest/unsubscribe/[\w.-]+>", unsubscribe)
        assert [p.get_content_type() for p in digest.iter_parts()] == ["text/plain", "text/html"]
        assert titles_in(digest) == [title_of(n) for n in range(10)]
        text = text_of(digest)
        body = digest.get_body(("html",)).get_content()
        assert "Why: Trending: 120 upvotes" in text
        # The visible link is the header's; the CSS is inlined, dark mode kept, no images.
        assert unsubscribe[1:-1] in text and unsubscribe[1:-1] in body
        assert 'style="' in body and "prefers-color-scheme: dark" in body and "<img" not in body
        assert "https://arxiv.org/abs/2603.00001" in body

    # RFC 8058: the one-click POST from the mail provider, no session, no CSRF token.
    path = sink.to("ada@example.org")[-1]["List-Unsubscribe"][len("<http://testserver") : -1]
    scanner = TestClient(app)
    assert "Unsubscribe" in scanner.get(path).text  # GET changes nothing
    assert subscription(catalog, "ada@example.org").status == ACTIVE
    one_click = scanner.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert subscription(catalog, "ada@example.org").status == "unsubscribed"

    # The same date again: nothing. The next day: Bob alone, the two papers he has not had.
    report = run(catalog, config)
    assert (report.queued, report.outcomes, sink.count()) == (0, {}, 4)
    report = run(catalog, config, day=DAY + timedelta(days=1), now=NOW + timedelta(days=1))
    assert report.outcomes == {"sent": 1} and sink.count() == 5
    assert titles_in(sink.to("bob@example.org")[-1]) == [title_of(10), title_of(11)]
    assert len(sink.to("ada@example.org")) == 2  # the confirmation and one digest
    # The day after: nothing new, and Bob's page says so.
    report = run(catalog, config, day=DAY + timedelta(days=2), now=NOW + timedelta(days=2))
    assert report.outcomes == {"empty": 1} and sink.count() == 5
    manage = link_in(sink.to("bob@example.org")[-1], "/digest/manage/")
    history = html.fromstring(TestClient(app).get(manage).text).xpath(
        "//ul[@class='digest-history']/li"
    )
    assert [li.text_content() for li in history] == [
        "2026-03-07: nothing new",
        "2026-03-06: sent",
        "2026-03-05: sent",
    ]
    with catalog.connect() as conn:
        shown = conn.execute(sa.select(sa.func.count()).select_from(digest_items)).scalar_one()
    assert shown == 10 + 12  # Ada's ten, Bob's twelve: each paper once per reader


def test_the_form_does_not_tell_who_subscribes_nor_flood_an_address(catalog, sink):
    config = make_config(sink, rate_subscribe_email="2/day", rate_subscribe="5/hour")
    app = make_app(catalog, config)
    subscribe_and_confirm(app, sink, "ada@example.org")  # this address's first request
    client = TestClient(app)
    token = csrf_of(client.get("/subscribe"))
    answers = [
        client.post("/subscribe", data={"email": address, "csrf_token": token})
        for address in ("ada@example.org", "eve@example.org", "eve@example.org", "eve@example.org")
    ]
    # The same answer each time: Ada, already subscribed, gets nothing more; Eve gets two
    # confirmations, then her address's limit (2 a day) sends nothing, whoever asks.
    assert all(a.status_code == 200 and "Check your inbox" in a.text for a in answers)
    assert len(sink.to("ada@example.org")) == 1
    assert len(sink.to("eve@example.org")) == 2
    # The sixth request from this address is over rate_subscribe.
    over = client.post("/subscribe", data={"email": "zed@example.org", "csrf_token": token})
    assert over.status_code == 429 and not sink.to("zed@example.org")


@pytest.mark.parametrize(
    ("email", "message"),
    [("not-an-address", "does not look like an email"), ("zoë@example.org", "non-ASCII")],
)
def test_a_bad_address_is_refused_with_the_reason(catalog, sink, email, message):
    client = TestClient(make_app(catalog, make_config(sink)))
    token = csrf_of(client.get("/subscribe"))
    refused = client.post("/subscribe", data={"email": email, "csrf_token": token})
    assert refused.status_code == 400 and message in refused.text
    with catalog.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(subscriptions)).scalar_one() == 0


def test_links_are_signed_and_the_confirmation_expires(catalog, sink):
    config = make_config(sink, digest_confirm_hours=2)
    app = make_app(catalog, config)
    client = TestClient(app)
    client.post(
        "/subscribe",
        data={"email": "ada@example.org", "csrf_token": csrf_of(client.get("/subscribe"))},
    )
    path = link_in(sink.to("ada@example.org")[0], "/digest/confirm/")
    tampered = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    assert client.get(tampered).status_code == 400
    assert client.get(path.replace("/confirm/", "/unsubscribe/")).status_code == 400  # salt
    late = TestClient(make_app(catalog, config, now=NOW + timedelta(hours=3)))
    expired = late.get(path)
    assert expired.status_code == 400 and "expired" in expired.text
    assert subscription(catalog, "ada@example.org").status == "pending"


# --- failures ------------------------------------------------------------------------------------


def add_active(store, address: str, **values) -> int:
    with store.begin() as conn:
        sub = add_subscription(
            conn,
            address,
            user_id=values.pop("user_id", None),
            status=ACTIVE,
            frequency="daily",
            sections=["trending"],
            max_papers=values.pop("max_papers", 10),
            now=NOW.replace(tzinfo=None),
        )
        conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.id == sub.id)
            .values(confirmed_at=NOW.replace(tzinfo=None), **values)
        )
    return sub.id


def test_temporary_failures_retry_later_and_permanent_ones_pause(catalog, sink):
    config = make_config(sink, digest_max_failures=2)
    with catalog.begin() as conn:
        user = create_user(conn, "bea", "bad@example.org", hash_password(PASSWORD))
    add_active(catalog, "ok@example.org")
    add_active(catalog, "grey@example.org")
    add_active(catalog, "bad@example.org", user_id=user.id)
    sink.script.refuse = {
        "grey@example.org": "451 4.7.1 greylisted, try again later",
        "bad@example.org": "550 5.1.1 no such mailbox",
    }
    report = run(catalog, config)
    assert report.outcomes == {"sent": 1, "retry": 1, "failed": 1} and not report.clean
    assert set(report.problems) == {
        "grey@example.org: retry (451 4.7.1 greylisted, try again later)",
        "bad@example.org: failed (550 5.1.1 no such mailbox)",
    }
    rows = {row["email"]: row for row in digest_rows(catalog)}
    assert rows["grey@example.org"]["next_attempt_at"] == datetime(2026, 3, 5, 8, 5)
    # Before the backoff ends nothing is tried; after it, the greylisted mail goes.
    assert run(catalog, config, now=NOW + timedelta(minutes=4)).outcomes == {}
    sink.script.refuse.pop("grey@example.org")
    later = run(catalog, config, now=NOW + timedelta(minutes=6))
    assert later.outcomes == {"sent": 1} and len(sink.to("grey@example.org")) == 1
    assert rows["grey@example.org"]["message_id"] == sink.to("grey@example.org")[0]["Message-ID"]

    # A second permanent failure in a row pauses Bea's subscription; her settings say so.
    run(catalog, config, day=DAY + timedelta(days=1), now=NOW + timedelta(days=1))
    paused = subscription(catalog, "bad@example.org")
    assert paused.status == "paused" and paused.failures == 2
    assert "550 5.1.1 no such mailbox" in paused.pause_reason
    client = TestClient(make_app(catalog, config))
    form = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_of(form), "login": "bea", "password": PASSWORD})
    settings = html.fromstring(client.get("/settings/digest").text)
    banner = settings.xpath("//div[contains(@class, 'digest-paused')]")[0].text_content()
    assert "Your digest is paused." in banner and "no such mailbox" in banner
    status = [li.text_content() for li in settings.xpath("//ul[@class='digest-history']/li")]
    assert status == [
        "2026-03-06: failed: 550 5.1.1 no such mailbox",
        "2026-03-05: failed: 550 5.1.1 no such mailbox",
    ]
    # Nothing goes to a paused subscription; switching it on again starts it (the address
    # confirmed before, so no new confirmation).
    assert (
        run(catalog, config, day=DAY + timedelta(days=2), now=NOW + timedelta(days=2)).queued == 2
    )
    assert len(sink.to("bad@example.org")) == 0
    client.post(
        "/settings/digest",
        data={"csrf_token": csrf_of(client.get("/settings/digest")), "action": "on"},
    )
    assert subscription(catalog, "bad@example.org").status == ACTIVE


def test_an_unreachable_server_stops_the_run_and_the_next_one_sends(catalog, sink):
    add_active(catalog, "ada@example.org")
    add_active(catalog, "bob@example.org")
    closed = make_config(sink, smtp_port=sink.port + 1 if sink.port < 65535 else 1)
    report = run(catalog, closed)
    assert report.error and "cannot reach 127.0.0.1" in report.error
    assert report.outcomes == {"retry": 1}
    report = run(catalog, make_config(sink))
    assert report.outcomes == {"sent": 2} and report.clean
    assert sorted(r.recipients[0] for r in sink.received) == ["ada@example.org", "bob@example.org"]


# The sink offers AUTH without TLS (test certificates would add nothing here); aiosmtpd warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_with_a_password_file(catalog, tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret pass\n")
    with SmtpSink(login=("papers", "s3cret pass")) as server:
        add_active(catalog, "ada@example.org")
        config = make_config(server, smtp_user="papers", smtp_password_file=str(secret))
        assert run(catalog, config).outcomes == {"sent": 1}
        assert server.logins == ["papers"] and len(server.to("ada@example.org")) == 1
        # A wrong password stops the run (smtplib tries PLAIN, refused with 535, then LOGIN,
        # which aiosmtpd leaves hanging: hence the short timeout).
        wrong = make_config(server, smtp_user="papers", smtp_password="nope", smtp_timeout=2)
        report = run(catalog, wrong, day=DAY + timedelta(days=1))
        assert report.error and "login failed" in report.error
        assert report.outcomes == {"retry": 1} and len(server.to("ada@example.org")) == 1


def test_both_password_settings_are_refused():
    with pytest.raises(ConfigError, match="smtp_password or smtp_password_file, not both"):
        load_config(
            environ={"DAILYPAPERS_SMTP_PASSWORD": "x", "DAILYPAPERS_SMTP_PASSWORD_FILE": "/x"},
            env_file=None,
        )


# --- what a digest holds ------------------------------------------------------------------------


def test_manage_page_sets_maximum_negative_keywords_and_frequency(catalog, sink):
    config = make_config(sink)
    app = make_app(catalog, config)
    subscribe_and_confirm(app, sink, "ada@example.org")
    sub = subscription(catalog, "ada@example.org")
    manage = f"/digest/manage/{sign(config, MANAGE, sub, NOW)}"
    client = TestClient(app)
    page = client.get(manage)
    form = {
        "csrf_token": csrf_of(page),
        "frequency": "weekly",
        "sections": "trending",
        "max_papers": "3",
        "negative_keywords": "Protein folding\nrobot",
    }
    saved = client.post(manage, data=form)
    assert saved.status_code == 200 and "Saved." in saved.text
    bad = client.post(manage, data={**form, "max_papers": "500"})
    assert bad.status_code == 400 and "from 1 to 50" in bad.text
    sub = subscription(catalog, "ada@example.org")
    assert (sub.frequency, sub.max_papers, sub.negative_keywords) == (
        "weekly",
        3,
        ["protein folding", "robot"],
    )
    report = run(catalog, config)
    assert report.outcomes == {"sent": 1}
    digest = sink.to("ada@example.org")[-1]
    assert digest["Message-ID"] == f"<digest.{sub.id}.{period_of('weekly', DAY)}@example.org>"
    assert digest["Subject"] == "Daily Papers: 3 papers for week 10 of 2026"
    # Papers 1 (protein folding) and 2 (robot) are left out; "Robot grasping" matches the
    # whole word "robot".
    assert titles_in(digest) == [title_of(0), title_of(3), title_of(4)]


def test_preview_shows_the_next_digest_and_records_nothing(catalog, sink):
    config = make_config(sink)
    with catalog.begin() as conn:
        create_user(conn, "root", "root@example.org", hash_password(PASSWORD), is_admin=True)
        reader = create_user(conn, "ada", "ada@example.org", hash_password(PASSWORD))
    add_active(catalog, "ada@example.org", user_id=reader.id, max_papers=4)
    app = make_app(catalog, config)

    def login(name: str) -> TestClient:
        client = TestClient(app)
        form = client.get("/login")
        client.post(
            "/login", data={"csrf_token": csrf_of(form), "login": name, "password": PASSWORD}
        )
        return client

    ada = login("ada")
    page = html.fromstring(ada.get("/settings/digest/preview").text)
    listed = [a.text for a in page.xpath("//ol[@class='digest-items']/li/a")]
    assert listed == ["2603.00001", "2603.00002", "2603.00003", "2603.00004"]
    frame = ada.get(page.xpath("//iframe/@src")[0])
    assert frame.status_code == 200 and title_of(0) in frame.text
    assert "sandbox" in frame.headers["content-security-policy"]
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert login("root").get("/admin/digests/preview?email=ada@example.org").status_code == 200
    assert ada.get("/admin/digests/preview?email=ada@example.org").status_code == 403
    assert TestClient(app).get("/settings/digest/preview").status_code == 401
    with catalog.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(digest_items)).scalar_one() == 0


def test_an_account_holder_switches_the_digest_on_with_one_confirmation(catalog, sink):
    config = make_config(sink)
    app = make_app(catalog, config)
    client = TestClient(app)
    form = client.get("/signup")
    client.post(
        "/signup",
        data={
            "csrf_token": csrf_of(form),
            "username": "ada",
            "email": "ada@example.org",
            "password": PASSWORD,
        },
    )
    form = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_of(form), "login": "ada", "password": PASSWORD})
    page = client.get("/settings/digest")
    assert "Switch the digest on" in page.text
    on = client.post(
        "/settings/digest", data={"csrf_token": csrf_of(page), "action": "on", "frequency": "daily"}
    )
    assert "open the link we sent to ada@example.org" in on.text
    [confirmation] = sink.to("ada@example.org")
    path = link_in(confirmation, "/digest/confirm/")
    client.post(path, data={"csrf_token": csrf_of(client.get(path))})
    sub = subscription(catalog, "ada@example.org")
    assert sub.status == ACTIVE and sub.user_id is not None
    assert sub.sections == ["trending", "following", "for_you"]
    page = client.get("/settings/digest")
    off = client.post("/settings/digest", data={"csrf_token": csrf_of(page), "action": "off"})
    assert "Your digest is off." in off.text
    # On again: the address confirmed once, so no second confirmation mail.
    page = client.get("/settings/digest")
    client.post("/settings/digest", data={"csrf_token": csrf_of(page), "action": "on"})
    assert subscription(catalog, "ada@example.org").status == ACTIVE
    assert len(sink.to("ada@example.org")) == 1
    # Without the CSRF token nothing changes.
    refused = client.post("/settings/digest", data={"action": "off"})
    assert refused.status_code == 403
    assert subscription(catalog, "ada@example.org").status == ACTIVE


# --- crash safety ---------------------------------------------------------------------------------


def test_two_runs_at_once_send_each_digest_once(catalog, sink):
    config = make_config(sink)
    for n in range(40):
        add_active(catalog, f"reader{n}@example.org")
    sink.script.delay = 0.002
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(run(catalog, config))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recipients = [r.recipients[0] for r in sink.received]
    assert len(recipients) == 40 and len(set(recipients)) == 40
    assert sum(r.outcomes.get("sent", 0) for r in reports) == 40
    assert sum(r.queued for r in reports) == 40


@pytest.mark.slow
def test_send_killed_mid_run_then_rerun_sends_every_mail_once(catalog, sink, database_url):
    """`dailypapers digest send` to 500 readers, killed with SIGKILL by the SMTP server while
    it receives the 150th mail; the rerun sends the other 350, and the reader caught in DATA
    is recorded as possibly sent, not sent again."""
    recipients = [f"reader{n:03d}@example.org" for n in range(500)]
    with catalog.begin() as conn:
        for address in recipients:
            sub = add_subscription(
                conn,
                address,
                user_id=None,
                status=ACTIVE,
                frequency="daily",
                sections=["trending"],
                max_papers=3,
                now=NOW.replace(tzinfo=None),
            )
            conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.id == sub.id)
                .values(confirmed_at=NOW.replace(tzinfo=None))
            )
    env = {
        **os.environ,
        **mail_settings(sink, digest_lease_seconds=2),
        "DAILYPAPERS_DATABASE_URL": database_url,
    }
    command = [sys.executable, "-m", "dailypapers", "digest", "send", "--date", "2026-03-05"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed_at: list[str] = []

    def kill_on_150th(count: int) -> None:
        if count == 150:
            killed_at.append(sink.received[-1].recipients[0])
            os.kill(process.pid, signal.SIGKILL)
            time.sleep(0.2)  # the 250 comes after the process is gone

    sink.script.delay = 0.001  # a slow server: each message waits before its 250
    sink.script.on_message = kill_on_150th
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    assert sink.count() == 150
    states = {row["email"]: row["status"] for row in digest_rows(catalog)}
    assert states[killed_at[0]] == "data"  # caught between DATA and the server's 250
    assert sum(1 for s in states.values() if s == "sent") == 149

    sink.script.on_message = None
    time.sleep(2.1)  # the dead run's lease ends
    rerun = subprocess.run(command, env=env, capture_output=True, timeout=300, text=True)
    assert rerun.returncode == 3, rerun.stderr  # finished, one digest possibly sent
    assert f"{killed_at[0]}: possibly sent" in rerun.stderr
    counts = {address: len(sink.to(address)) for address in recipients}
    assert set(counts.values()) == {1}  # nobody twice, everybody once (the caught one too)
    states = {row["email"]: row["status"] for row in digest_rows(catalog)}
    assert states.pop(killed_at[0]) == "possibly_sent"
    assert set(states.values()) == {"sent"}
    # Admins see it, in the CLI and on the site.
    status = CliRunner().invoke(
        cli,
        ["digest", "status"],
        env={**mail_settings(sink), "DAILYPAPERS_DATABASE_URL": database_url},
    )
    assert status.exit_code == 0
    assert f"2026-03-05  {killed_at[0]}  possibly sent" in status.output
    assert "500 active" in status.output and "digests: 1 possibly sent, 499 sent" in status.output
    # A third run on the same date sends nothing.
    again = subprocess.run(command, env=env, capture_output=True, timeout=300, text=True)
    assert again.returncode == 0 and sink.count() == 500


# --- the command line ---------------------------------------------------------------------------


def test_cli_dry_run_and_missing_settings(catalog, sink, database_url):
    add_active(catalog, "ada@example.org", max_papers=2)
    env = {**mail_settings(sink), "DAILYPAPERS_DATABASE_URL": database_url}
    runner = CliRunner()
    dry = runner.invoke(cli, ["digest", "send", "--dry-run", "--date", "2026-03-05"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "ada@example.org: 2 papers" in dry.output and sink.count() == 0
    with catalog.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(digests)).scalar_one() == 0
    no_mail = {k: v for k, v in env.items() if k != "DAILYPAPERS_SMTP_HOST"}
    refused = runner.invoke(cli, ["digest", "send"], env=no_mail)
    assert refused.exit_code == 2 and "smtp_host" in refused.output
    unknown = runner.invoke(cli, ["digest", "send", "--to", "zed@example.org"], env=env)
    assert unknown.exit_code == 2 and "zed@example.org has no subscription" in unknown.output
    sent = runner.invoke(
        cli, ["digest", "send", "--date", "2026-03-05", "--to", "ada@example.org"], env=env
    )
    assert sent.exit_code == 0, sent.output
    assert "1 queued, 1 sent" in sent.output and len(sink.to("ada@example.org")) == 1


def test_admin_page_lists_what_needs_a_look(catalog, sink):
    config = make_config(sink)
    with catalog.begin() as conn:
        create_user(conn, "root", "root@example.org", hash_password(PASSWORD), is_admin=True)
    add_active(catalog, "bad@example.org")
    sink.script.refuse = {"bad@example.org": "550 5.1.1 no such mailbox"}
    run(catalog, config)
    client = TestClient(make_app(catalog, config))
    assert client.get("/admin/digests").status_code == 401
    form = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_of(form), "login": "root", "password": PASSWORD})
    page = html.fromstring(client.get("/admin/digests").text)
    [row] = page.xpath("//table[contains(@class, 'digest-troubled')]/tbody/tr")
    assert [td.text_content() for td in row.xpath("td")] == [
        "bad@example.org",
        "2026-03-05",
        "failed: 550 5.1.1 no such mailbox",
        "1",
    ]


def test_mail_bodies_render_both_parts_without_images():
    html_part, text = mail.render_mail(
        "confirm",
        site_name="Papers <&>",
        subject="s",
        email="a@example.org",
        frequency="weekly",
        confirm_url="https://papers.example.org/digest/confirm/x",
        hours=72,
    )
    assert "Papers &lt;&amp;&gt;" in html_part and "Papers <&>" in text
    assert 'class="button" href="https://papers.example.org/digest/confirm/x"' in html_part
    assert "<img" not in html_part and "@media (prefers-color-scheme: dark)" in html_part


def test_outbox_keeps_to_the_rate_on_one_connection_and_can_drop_a_mail(sink):
    config = make_config(sink, smtp_rate=4)
    moment = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))
        moment[0] += seconds

    def message(n: int):
        return mail.build_message(
            config,
            to=f"r{n}@example.org",
            subject="s",
            html="<p>x</p>",
            text="x",
            message_id=f"<m{n}@example.org>",
            date=NOW,
        )

    with mail.Outbox(config, sleep=sleep, monotonic=lambda: moment[0]) as outbox:
        for n in range(3):
            assert outbox.send(message(n), f"r{n}@example.org", lambda: True)
        # A caller that lost its digest says no before DATA: nothing is sent.
        assert not outbox.send(message(3), "r3@example.org", lambda: False)
        assert outbox.sent_on_connection == 3
    assert waits == [0.25, 0.25, 0.25]
    assert [r.recipients for r in sink.received] == [[f"r{n}@example.org"] for n in range(3)]


def test_leases_and_frozen_papers_keep_runs_apart(catalog):
    """Storage rules the runs rely on: a held digest is not taken again until its lease ends,
    writes need the lease, and a paper never goes into two digests of one reader."""
    sub_id = add_active(catalog, "ada@example.org")
    moment = NOW.replace(tzinfo=None)
    until = moment + timedelta(seconds=60)
    with catalog.begin() as conn:
        assert queue_digests(conn, "2026-03-05", "2026-W10", moment) == 1
        assert queue_digests(conn, "2026-03-05", "2026-W10", moment) == 0
        assert queue_digests(conn, "2026-03-06", "2026-W10", moment) == 1
    first = claim_digest(catalog, "run-a", moment, until, sub_id)
    second = claim_digest(catalog, "run-b", moment, until, sub_id)
    assert first and second and first.id != second.id
    assert claim_digest(catalog, "run-c", moment, until, sub_id) is None
    item = DigestItem("2603.00001", "trending", 0, "Trending")
    with catalog.begin() as conn:
        assert not freeze_digest(conn, first, "run-b", [item], moment, status="ready")
        assert freeze_digest(conn, first, "run-a", [item], moment, status="ready")
    with pytest.raises(Conflict), catalog.begin() as conn:
        freeze_digest(conn, second, "run-b", [item], moment, status="ready")
    with catalog.connect() as conn:
        assert get_digest(conn, second.id).status == "queued"
        assert items_of(conn, first.id) == [item]
    # When the lease ends, another run takes the digest over, in the state it was left.
    later = until + timedelta(seconds=1)
    taken = claim_digest(catalog, "run-c", later, later + timedelta(seconds=60), sub_id)
    assert taken is not None and taken.lease_owner == "run-c"
    assert (taken.id, taken.status) in {(first.id, "ready"), (second.id, "queued")}


def test_an_account_digest_has_a_following_section_with_its_why_lines(catalog, sink):
    from dailypapers.services.follows import follow

    config = make_config(sink)
    with catalog.begin() as conn:
        ada = create_user(conn, "ada", "ada@example.org", "not a real hash")
    follow(catalog, config, ada, "author", "Ada Lovelace")
    add_active(catalog, "ada@example.org", user_id=ada.id, max_papers=4)
    with catalog.begin() as conn:
        conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.user_id == ada.id)
            .values(sections=json.dumps(["trending", "following"]))
        )
    run(catalog, config)
    [mail] = sink.to("ada@example.org")
    text = text_of(mail)
    titles = titles_in(mail)
    # two by trending (the most upvoted), two from the follow, none twice
    assert len(titles) == len(set(titles)) == 4
    assert titles[:2] == [title_of(0), title_of(1)]
    assert "From what you follow" in text
    assert text.count("Following: author: Ada Lovelace") == 2
