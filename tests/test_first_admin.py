"""The first admin from the environment (services/first_admin.py, `serve` start-up) on SQLite
and PostgreSQL, and through a real `serve`."""

import logging
import os
import subprocess
import sys

import httpx
import pytest
from lxml import html

from dailypapers.config import ConfigError, load_config
from dailypapers.services.accounts import authenticate, register
from dailypapers.services.first_admin import FirstAdminError, ensure_first_admin
from dailypapers.storage.users import find_user

from .conftest import running_serve

PASSWORD = "correct horse battery staple"


def config_for(**settings):
    environ = {f"DAILYPAPERS_{k.upper()}": str(v) for k, v in settings.items()}
    return load_config(environ=environ, env_file=None)


def secret_file(tmp_path, text, name="admin_password"):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return path


def account(store, name):
    with store.connect() as conn:
        return find_user(conn, name)


def test_the_admin_is_created_once_from_the_password_file(store, tmp_path, caplog):
    path = secret_file(tmp_path, PASSWORD + "\n")  # the newline is not part of the password
    config = config_for(admin_user="root", admin_email="root@example.org", admin_password_file=path)
    with caplog.at_level(logging.INFO, logger="dailypapers.services.first_admin"):
        said = ensure_first_admin(store, config)
    assert said == "created the admin root <root@example.org> from admin_user"
    assert caplog.records[-1].getMessage() == said
    admin = authenticate(store, "root", PASSWORD)
    assert admin is not None and admin.is_admin and admin.email == "root@example.org"
    assert admin.password_hash.startswith("$argon2")  # the same hashing as every account

    # Started again with another password in the file: the account is left as it is.
    secret_file(tmp_path, "a different long password\n")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dailypapers.services.first_admin"):
        again = ensure_first_admin(store, config)
    assert again == "the admin root exists; left as it is (its password is not changed)"
    assert caplog.records[-1].levelno == logging.INFO
    assert authenticate(store, "root", PASSWORD) is not None
    assert authenticate(store, "root", "a different long password") is None
    assert account(store, "root").password_hash == admin.password_hash


def test_an_existing_reader_of_that_name_is_not_made_an_admin(store, caplog):
    register(store, "Root", "reader@example.org", "the reader's own password")
    config = config_for(admin_user="root", admin_email="root@example.org", admin_password=PASSWORD)
    with caplog.at_level(logging.INFO, logger="dailypapers.services.first_admin"):
        said = ensure_first_admin(store, config)
    assert said.startswith("the account Root exists but is not an admin; left as it is")
    assert caplog.records[-1].levelno == logging.WARNING
    reader = account(store, "root")
    assert not reader.is_admin and reader.email == "reader@example.org"
    assert authenticate(store, "root", "the reader's own password") is not None


def test_admin_password_works_without_a_file(store):
    config = config_for(admin_user="boss", admin_email="boss@example.org", admin_password=PASSWORD)
    assert ensure_first_admin(store, config).startswith("created the admin boss")
    assert authenticate(store, "boss@example.org", PASSWORD).is_admin


def test_nothing_happens_without_admin_user(store):
    assert ensure_first_admin(store, config_for()) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"admin_password_file": "{missing}"}, "cannot read admin_password_file {missing}: "),
        ({"admin_password_file": "{tmp}"}, "cannot read admin_password_file {tmp}: "),
        ({"admin_password_file": "{empty}"}, "admin_password_file {empty} is empty"),
        ({"admin_password": "short"}, "cannot create the admin 'root': passwords need at least"),
        ({"admin_password": "root"}, "cannot create the admin 'root': passwords need at least"),
        ({}, "admin_user is 'root' but there is no password: set admin_password_file"),
        (
            {"admin_password": PASSWORD, "admin_email": ""},
            "admin_email is needed to create the admin 'root'",
        ),
        (
            {"admin_password": PASSWORD, "admin_email": "taken@example.org"},
            "cannot create the admin 'root': ",
        ),
        (
            {"admin_password": PASSWORD, "admin_email": "not an email"},
            "cannot create the admin 'root': that does not look like an email address",
        ),
    ],
)
def test_unusable_settings_stop_with_the_setting_named(store, tmp_path, settings, message):
    register(store, "someone", "taken@example.org", "someone's long password")
    places = {
        "missing": tmp_path / "no-such-file",
        "tmp": tmp_path,  # a folder
        "empty": secret_file(tmp_path, "\n", "empty"),
    }
    settings = {k: str(v).format(**places) for k, v in settings.items()}
    config = config_for(**{"admin_user": "root", "admin_email": "root@example.org", **settings})
    with pytest.raises(FirstAdminError) as raised:
        ensure_first_admin(store, config)
    assert str(raised.value).startswith(message.format(**places))
    assert account(store, "root") is None  # nothing half-made


def test_password_and_password_file_together_are_refused():
    with pytest.raises(ConfigError, match="set admin_password or admin_password_file, not both"):
        config_for(admin_password=PASSWORD, admin_password_file="/run/secrets/x")


def csrf_of(response) -> str:
    return html.fromstring(response.text).xpath("//input[@name='csrf_token']/@value")[0]


def test_serve_creates_the_admin_who_can_log_in(tmp_path):
    path = secret_file(tmp_path, PASSWORD + "\n")
    env = {
        **os.environ,
        "DAILYPAPERS_DATA_DIR": str(tmp_path / "data"),
        "DAILYPAPERS_ADMIN_USER": "root",
        "DAILYPAPERS_ADMIN_EMAIL": "root@example.org",
        "DAILYPAPERS_ADMIN_PASSWORD_FILE": str(path),
    }
    with running_serve(env) as url, httpx.Client(base_url=url) as browser:
        assert browser.get("/admin/digests").status_code in (401, 403, 303)
        form = {"csrf_token": csrf_of(browser.get("/login")), "login": "root", "password": PASSWORD}
        assert browser.post("/login", data=form).status_code == 303
        assert browser.get("/admin/digests").status_code == 200  # admins only


def test_serve_refuses_to_start_with_a_weak_admin_password(tmp_path):
    path = secret_file(tmp_path, "short\n")
    env = {
        **os.environ,
        "DAILYPAPERS_DATA_DIR": str(tmp_path / "data"),
        "DAILYPAPERS_ADMIN_USER": "root",
        "DAILYPAPERS_ADMIN_EMAIL": "root@example.org",
        "DAILYPAPERS_ADMIN_PASSWORD_FILE": str(path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "dailypapers", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "cannot create the admin 'root': passwords need at least" in done.stderr
