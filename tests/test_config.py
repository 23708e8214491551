"""Settings: typed values, the lookup order with sources, bad values naming their key, masking."""

import dataclasses
import types
import typing
from pathlib import Path

import pytest

from dailypapers.config import BY_NAME, SETTINGS, Config, ConfigError, load_config


def _declared_types() -> dict[str, tuple[type, ...]]:
    """Each setting's annotation as a tuple for isinstance (`str | None` -> (str, NoneType))."""
    hints = typing.get_type_hints(Config)
    return {
        s.name: typing.get_args(hints[s.name])
        if isinstance(hints[s.name], types.UnionType)
        else (hints[s.name],)
        for s in SETTINGS
    }


def test_the_table_is_the_config_fields():
    names = [f.name for f in dataclasses.fields(Config) if not f.name.startswith("_")]
    assert [s.name for s in SETTINGS] == names and list(BY_NAME) == names
    assert BY_NAME["fusion_depth"].env == "DAILYPAPERS_FUSION_DEPTH"
    assert all(s.help and s.parse for s in SETTINGS)


def test_every_default_has_its_declared_type_and_survives_its_parser():
    declared = _declared_types()
    for item in SETTINGS:
        if item.name == "database_url":  # derived from data_dir; checked below
            continue
        assert isinstance(item.default, declared[item.name]), item.name
        if item.default is not None:
            assert item.parse(str(item.default)) == item.default, item.name


def test_values_are_parsed_to_their_declared_types():
    environ = {
        "DAILYPAPERS_HTTP_RETRIES": "2",
        "DAILYPAPERS_REQUEST_DELAY": " 0.5 ",
        "DAILYPAPERS_COOKIE_SECURE": "yes",
        "DAILYPAPERS_LOG_LEVEL": "info",
        "DAILYPAPERS_BASE_URL": "https://papers.example.org",
    }
    config = load_config(environ=environ, env_file=None)
    assert config.http_retries == 2 and type(config.http_retries) is int
    assert config.request_delay == 0.5 and config.cookie_secure is True
    assert config.log_level == "INFO" and config.base_url == "https://papers.example.org"
    declared = _declared_types()
    for item in SETTINGS:
        assert isinstance(getattr(config, item.name), declared[item.name]), item.name
    with pytest.raises(AttributeError):
        config.fusion_dept  # mypy rejects this line too
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.fusion_depth = 3


def test_lookup_order_is_flag_env_dotenv_default_and_sources_are_kept(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DAILYPAPERS_HTTP_RETRIES=5\nDAILYPAPERS_LOG_LEVEL=error\nDAILYPAPERS_SITE_NAME=Dotenv\n"
    )
    environ = {"DAILYPAPERS_HTTP_RETRIES": "4", "DAILYPAPERS_LOG_LEVEL": "debug"}
    config = load_config(
        {"http_retries": "3", "fusion_depth": None}, environ=environ, env_file=env_file
    )
    assert (config.http_retries, config.source("http_retries")) == (3, "flag")
    assert (config.log_level, config.source("log_level")) == ("DEBUG", "env")
    assert (config.site_name, config.source("site_name")) == ("Dotenv", ".env")
    assert (config.fusion_depth, config.source("fusion_depth")) == (100, "default")
    path = Path("data").resolve() / "dailypapers.db"
    assert (config.database_url, config.source("database_url")) == (f"sqlite:///{path}", "default")
    rows = {name: (value, source) for name, value, source, _help in config.rows()}
    assert list(rows) == list(BY_NAME) and rows["http_retries"] == ("3", "flag")


def test_database_url_default_follows_data_dir(tmp_path):
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path / "d")}, env_file=None)
    assert config.database_url == f"sqlite:///{tmp_path / 'd' / 'dailypapers.db'}"
    assert Config(data_dir=str(tmp_path)).database_url == f"sqlite:///{tmp_path}/dailypapers.db"


def test_overrides_are_typed_values_recorded_as_flags():
    config = load_config(environ={"DAILYPAPERS_FUSION_DEPTH": "7"}, env_file=None)
    changed = config.with_overrides(fusion_depth=20, site_name="Elsewhere")
    assert (changed.fusion_depth, changed.source("fusion_depth")) == (20, "flag")
    assert (changed.site_name, changed.source("site_name")) == ("Elsewhere", "flag")
    assert (config.fusion_depth, config.source("fusion_depth")) == (7, "env")
    assert changed.source("http_retries") == "default"
    with pytest.raises(ConfigError, match="unknown setting fusion_dept"):
        config.with_overrides(fusion_dept=20)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("env", "bad value for http_retries (DAILYPAPERS_HTTP_RETRIES='many'): "),
        (".env", "bad value for http_retries (DAILYPAPERS_HTTP_RETRIES in .env='many'): "),
    ],
)
def test_a_bad_value_names_its_key_and_where_it_came_from(tmp_path, where, message):
    env_file = tmp_path / ".env"
    environ = {}
    if where == "env":
        environ = {"DAILYPAPERS_HTTP_RETRIES": "many"}
    else:
        env_file.write_text("DAILYPAPERS_HTTP_RETRIES=many\n")
    with pytest.raises(ConfigError) as raised:
        load_config(environ=environ, env_file=env_file)
    assert str(raised.value).startswith(message)


def test_a_bad_flag_names_its_key():
    # How the message spells a flag is the CLI's business; the key and the value are ours.
    with pytest.raises(ConfigError) as raised:
        load_config({"http_retries": "many"}, environ={}, env_file=None)
    message = str(raised.value)
    assert message.startswith("bad value for http_retries (") and "='many'): " in message


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DAILYPAPERS_SECRET_KEY": "short"}, "bad value for secret_key"),
        ({"DAILYPAPERS_COOKIE_SECURE": "maybe"}, "must be true or false"),
        ({"DAILYPAPERS_RATE_VOTE": "lots"}, "bad value for rate_vote"),
        ({"DAILYPAPERS_FUSION_DEPT": "5"}, "unknown setting DAILYPAPERS_FUSION_DEPT"),
    ],
)
def test_bad_and_unknown_settings_are_errors(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ, env_file=None)


def test_secrets_are_masked_in_rows_and_repr():
    key = "k" * 40
    config = load_config(
        environ={
            "DAILYPAPERS_DATABASE_URL": "postgresql://app:s3cret@db:5432/papers",
            "DAILYPAPERS_SECRET_KEY": key,
        },
        env_file=None,
    )
    assert config.database_url == "postgresql://app:s3cret@db:5432/papers"
    assert config.secret_key == key
    shown = {name: value for name, value, _source, _help in config.rows()}
    assert shown["database_url"] == "postgresql://app:****@db:5432/papers"
    assert shown["secret_key"] == "****"
    assert shown["site_name"] == "Daily Papers" and shown["base_url"] == ""
    for text in (repr(config), str(shown)):
        assert "s3cret" not in text and key not in text
    no_password = config.with_overrides(database_url="postgresql://app@db/papers")
    assert dict((n, v) for n, v, _s, _h in no_password.rows())["database_url"] == (
        "postgresql://app@db/papers"
    )


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("", ""), ("*", "*"), (" 10.0.0.1 , ::1 ", "10.0.0.1,::1"), ("10.0.0.0/8", "10.0.0.0/8")],
)
def test_trusted_proxies_are_addresses_networks_or_a_star(raw, parsed):
    environ = {"DAILYPAPERS_TRUSTED_PROXIES": raw}
    assert load_config(environ=environ, env_file=None).trusted_proxies == parsed


@pytest.mark.parametrize("raw", ["proxy.example.org", "10.0.0.1/8", "*,10.0.0.1", "10.0.0.1,,"])
def test_trusted_proxies_refuse_names_and_mixtures(raw):
    with pytest.raises(ConfigError, match="bad value for trusted_proxies"):
        load_config(environ={"DAILYPAPERS_TRUSTED_PROXIES": raw}, env_file=None)


def test_any_setting_can_come_from_a_file_named_by_its_file_variable(tmp_path):
    key = tmp_path / "secret_key"
    key.write_text("k" * 40 + "\n")  # the line break `echo` and editors add is not part of it
    password = tmp_path / "smtp_password"
    password.write_text("two words, then spaces  \n")
    retries = tmp_path / "retries"
    retries.write_text("4\n")
    environ = {
        "DAILYPAPERS_SECRET_KEY_FILE": str(key),
        "DAILYPAPERS_SMTP_PASSWORD_FILE_FILE": str(password),  # smtp_password_file from a file
        "DAILYPAPERS_HTTP_RETRIES_FILE": str(retries),
        "DAILYPAPERS_SITE_NAME": "Env",
    }
    config = load_config(environ=environ, env_file=None)
    assert config.secret_key == "k" * 40 and config.source("secret_key") == "file"
    assert config.http_retries == 4 and config.source("http_retries") == "file"
    assert config.smtp_password_file == "two words, then spaces  "  # only line breaks go
    assert config.site_name == "Env" and config.source("site_name") == "env"
    shown = {name: (value, source) for name, value, source, _help in config.rows()}
    assert shown["secret_key"] == ("****", "file")


def test_a_file_variable_in_dotenv_counts_and_the_environment_still_wins(tmp_path):
    url = tmp_path / "database_url"
    url.write_text("sqlite:////srv/papers.db\r\n")
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"DAILYPAPERS_DATABASE_URL_FILE={url}\nDAILYPAPERS_SITE_NAME_FILE={tmp_path / 'nope'}\n"
    )
    config = load_config(environ={"DAILYPAPERS_SITE_NAME": "Env"}, env_file=env_file)
    assert config.database_url == "sqlite:////srv/papers.db"
    assert config.source("database_url") == "file" and config.site_name == "Env"


def test_a_value_and_its_file_variable_together_are_an_error(tmp_path):
    path = tmp_path / "key"
    path.write_text("k" * 40)
    environ = {"DAILYPAPERS_SECRET_KEY": "x" * 40, "DAILYPAPERS_SECRET_KEY_FILE": str(path)}
    with pytest.raises(ConfigError) as raised:
        load_config(environ=environ, env_file=None)
    assert str(raised.value) == (
        "set DAILYPAPERS_SECRET_KEY or DAILYPAPERS_SECRET_KEY_FILE, not both"
    )


def test_an_unreadable_file_names_the_variable_and_the_path(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError) as raised:
        load_config(environ={"DAILYPAPERS_SECRET_KEY_FILE": str(missing)}, env_file=None)
    assert str(raised.value) == (
        f"cannot read DAILYPAPERS_SECRET_KEY_FILE={str(missing)!r}: No such file or directory"
    )
    with pytest.raises(ConfigError, match="cannot read DAILYPAPERS_SITE_NAME_FILE=.*directory"):
        load_config(environ={"DAILYPAPERS_SITE_NAME_FILE": str(tmp_path)}, env_file=None)


def test_a_bad_value_from_a_file_names_the_variable_and_not_the_contents(tmp_path):
    path = tmp_path / "key"
    path.write_text("short-secret\n")
    with pytest.raises(ConfigError) as raised:
        load_config(environ={"DAILYPAPERS_SECRET_KEY_FILE": str(path)}, env_file=None)
    message = str(raised.value)
    assert message.startswith(
        f"bad value for secret_key (DAILYPAPERS_SECRET_KEY_FILE={str(path)!r}): must be at least"
    )
    assert "short-secret" not in message


def test_settings_whose_name_ends_in_file_keep_their_variable(tmp_path):
    path = tmp_path / "admin"
    path.write_text("first line\nsecond\n")
    config = load_config(environ={"DAILYPAPERS_ADMIN_PASSWORD_FILE": str(path)}, env_file=None)
    assert config.admin_password_file == str(path)  # a path, read when serve starts
    assert config.admin_password == "" and config.source("admin_password_file") == "env"
    with pytest.raises(ConfigError, match="unknown setting DAILYPAPERS_FUSION_DEPT_FILE"):
        load_config(environ={"DAILYPAPERS_FUSION_DEPT_FILE": str(path)}, env_file=None)
