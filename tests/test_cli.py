import gzip
import json
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from dailypapers.cli import cli
from dailypapers.config import SETTINGS

from .conftest import DATA, DEMO, running_serve


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "dailypapers", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "ingest" in result.stdout


def test_help_lists_the_commands_and_no_flag_per_setting():
    result = run("--help")
    assert result.exit_code == 0 and "--set KEY=VALUE" in result.output
    for setting in SETTINGS:
        assert "--" + setting.name.replace("_", "-") not in result.output, setting.name
    lines = result.output.splitlines()
    commands = lines[lines.index("Commands:") :]
    assert lines.index("Commands:") < 25
    for name in ("config", "db", "demo", "index", "ingest", "search", "serve", "stats", "user"):
        assert any(line.split()[:1] == [name] for line in commands), name


def test_set_gives_a_setting_with_the_source_flag():
    result = run(
        "--set",
        "site_name=X",
        "--set",
        "user_agent=bot (a=b)",
        "--set",
        "log_level=info",
        "--set",
        "log_level=error",
        "config",
        "show",
        "--json",
        env={"DAILYPAPERS_SITE_NAME": "from env"},
    )
    shown = json.loads(result.output)
    assert shown["site_name"] == {"value": "X", "source": "flag"}
    assert shown["user_agent"] == {"value": "bot (a=b)", "source": "flag"}
    assert shown["log_level"] == {"value": "ERROR", "source": "flag"}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("database-url=sqlite:///x.db", "unknown setting 'database-url'"),
        ("DAILYPAPERS_SITE_NAME=X", "unknown setting 'DAILYPAPERS_SITE_NAME'"),
        ("site_name", "'site_name' is not KEY=VALUE"),
        ("http_retries=many", "bad value for http_retries (--set http_retries='many')"),
    ],
)
def test_bad_set_is_a_usage_error_naming_it(pair, message):
    result = CliRunner().invoke(cli, ["--set", pair, "stats"])
    assert result.exit_code == 2 and message in result.output


def _serve(tmp_path, *settings):
    """`dailypapers --set ... serve` with `settings` (KEY=VALUE) on a free port."""
    flags = [part for pair in settings for part in ("--set", pair)]
    return running_serve(
        None, "--set", f"data_dir={tmp_path}", *flags, "--set", "index_interval_seconds=0"
    )


def test_serve_hands_set_values_to_the_web_process(tmp_path):
    with _serve(tmp_path, "site_name=Set Papers") as url:
        page = httpx.get(url + "/papers", timeout=10)
        assert page.status_code == 200 and "Set Papers" in page.text


def _failed_logins(url, count):
    """`count` failed logins from 127.0.0.1, each claiming another X-Forwarded-For address
    and another login (so no account's budget is involved); their statuses."""
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/login").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        return [
            client.post(
                "/login",
                data={"csrf_token": token, "login": f"x{n}", "password": "wrong password"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(count)
        ]


@pytest.mark.parametrize(
    ("trusted", "statuses"),
    [("", [400, 400, 400, 429]), ("127.0.0.1", [400, 400, 400, 400])],
)
def test_serve_believes_x_forwarded_for_only_from_trusted_proxies(tmp_path, trusted, statuses):
    # Untrusted (the default): the limit counts the real peer, whatever the header says.
    # Trusted: each claimed address is its own, as behind a real proxy.
    # Per hour, so the four attempts all but never straddle a window boundary (windows
    # align to the clock; per minute they would about once in a hundred runs).
    settings = ["rate_login=3/hour"] + ([f"trusted_proxies={trusted}"] if trusted else [])
    with _serve(tmp_path, *settings) as url:
        assert _failed_logins(url, 4) == statuses


def test_config_show_lists_sources_and_masks_passwords(tmp_path):
    (tmp_path / ".env").write_text("DAILYPAPERS_LOG_LEVEL=info\n")
    result = run(
        "--set",
        "http_retries=2",
        "config",
        "show",
        "--json",
        env={"DAILYPAPERS_DATABASE_URL": "postgresql://app:s3cret@db:5432/papers"},
    )
    shown = json.loads(result.output)
    assert shown["http_retries"] == {"value": "2", "source": "flag"}
    assert shown["database_url"] == {
        "value": "postgresql://app:****@db:5432/papers",
        "source": "env",
    }
    assert shown["log_level"] == {"value": "INFO", "source": ".env"}
    assert shown["request_delay"]["source"] == "default"
    assert (
        "s3cret"
        not in run(
            "config", "show", env={"DAILYPAPERS_DATABASE_URL": "postgresql://a:s3cret@h/d"}
        ).output
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DAILYPAPERS_HTTP_RETRIES": "many"}, "http_retries (DAILYPAPERS_HTTP_RETRIES="),
        ({"DAILYPAPERS_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"DAILYPAPERS_OAI_ENDPOINT": "ftp://x"}, "oai_endpoint"),
        ({"DAILYPAPERS_DATABSE_URL": "sqlite:///x"}, "unknown setting DAILYPAPERS_DATABSE_URL"),
    ],
)
def test_bad_setting_stops_startup_naming_the_key(env, message):
    result = CliRunner().invoke(cli, ["stats"], env=env)
    assert result.exit_code == 2 and message in result.output


def test_demo_stats_and_json(tmp_path):
    env = {"DAILYPAPERS_DATA_DIR": str(tmp_path / "d")}
    first = run("demo", env=env)
    assert first.exit_code == 0 and "daily list: 89 new" in first.output
    assert "nothing loaded" in run("demo", "--if-empty", env=env).output
    numbers = json.loads(run("stats", "--json", env=env).output)
    assert numbers["daily_submissions"] == 89
    assert isinstance(numbers["papers"], int) and isinstance(numbers["versions"], int)
    text = run("stats", env=env).output
    assert f"papers             {numbers['papers']:,}" in text and "quant-ph" in text


def test_snapshot_exit_codes(tmp_path):
    env = {"DAILYPAPERS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    good = DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl"
    result = run("ingest", "snapshot", str(good), env=env)
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "snapshot: 17 records: 17 new, 0 updated, 0 unchanged, 0 skipped"
    )
    assert "keyword index: 17 papers indexed" in result.stderr
    bad = tmp_path / "bad.json.gz"
    with gzip.open(bad, "wb") as out:
        out.write(good.read_bytes().splitlines()[0] + b"\n{broken\n")
    result = CliRunner().invoke(cli, ["ingest", "snapshot", str(bad)], env=env)
    assert result.exit_code == 3
    assert "bad.json.gz:2: invalid JSON" in result.output
    assert "1 unchanged, 1 skipped (invalid JSON: 1)" in result.output


def test_hf_daily_file_and_missing_file(tmp_path):
    env = {"DAILYPAPERS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    result = CliRunner().invoke(
        cli, ["ingest", "hf-daily", str(DATA / "hf_daily_papers_CONSTRUCTED.json")], env=env
    )
    assert result.exit_code == 3 and "daily list: 2 new" in result.output
    missing = CliRunner().invoke(cli, ["ingest", "hf-daily", "nope.json"], env=env)
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_arxiv_api_needs_exactly_one_of_query_or_id():
    result = CliRunner().invoke(cli, ["ingest", "arxiv-api"])
    assert result.exit_code == 2 and "either --query or one or more --id" in result.output


def test_oai_needs_from_on_first_harvest_and_checks_dates(tmp_path):
    env = {"DAILYPAPERS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    result = CliRunner().invoke(cli, ["ingest", "oai"], env=env)
    assert result.exit_code == 2 and "--from is required" in result.output
    result = CliRunner().invoke(cli, ["ingest", "oai", "--from", "2024-13-01"], env=env)
    assert result.exit_code == 2 and "is not a date" in result.output
    result = CliRunner().invoke(
        cli, ["ingest", "oai", "--from", "2024-02-01", "--until", "2024-01-01"], env=env
    )
    assert result.exit_code == 2 and "--until is before --from" in result.output


def test_unreachable_database_fails_cleanly(tmp_path):
    env = {"DAILYPAPERS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = CliRunner().invoke(cli, ["stats"], env=env)
    assert result.exit_code == 1 and "cannot open database" in result.output
