"""Back up a running site and restore it elsewhere: `dailypapers backup DIR` and `restore DIR`.

A backup folder holds the database copy (storage/backups.py: SQLite's online backup, or
PostgreSQL's `pg_dump -Fc`), the site's secret key when it lives in the data folder (it signs
sessions and the links in digest mails), and `manifest.json`: the release, the database kind,
the migration revision, rows per table and the catalog stats, all read in the copy's own
snapshot, plus each file's sha256. The folder and its files are readable by their owner
alone (0700 and 0600): they hold the password hashes and the secret key. It is written
under a temporary name and renamed when complete, so a folder named DIR is always whole.

Not in it: the search indexes (`<data_dir>/search`), which `dailypapers index --rebuild`
makes again from the database, and the ONNX model file, made again on first use.

A restore goes into an empty database only (a new one, or one a `serve` or `db migrate`
gave just the schema), checks the files against their sums first and the restored rows
against the manifest after, then brings the schema up to this release's migrations.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import Config
from ..storage import Store, known_revision, migrate_store, open_store
from ..storage.backups import (
    BackupError,
    Progress,
    Snapshot,
    backup_postgresql,
    backup_sqlite,
    clear_for_restore,
    restore_postgresql,
    restore_sqlite,
    table_counts,
)
from ..storage.stats import catalog_stats

FORMAT = 1
MANIFEST = "manifest.json"
SECRET_KEY = "secret_key"  # noqa: S105 (a file name, not a secret)
DATABASE_FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}

__all__ = ["BackupError", "Manifest", "restore_backup", "write_backup"]


@dataclass(frozen=True)
class Manifest:
    """manifest.json, read or about to be written."""

    database: str
    file: str
    revision: str | None
    tables: dict[str, int]
    stats: dict[str, Any]
    created_at: str
    release: str
    secret_key: str  # "file": the key is in the folder; "setting": set by secret_key; "none"
    sha256: dict[str, str]
    tool: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **self.__dict__}

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise BackupError(
                f"{folder} is not a dailypapers backup: it has no {MANIFEST}"
            ) from None
        except ValueError as error:
            raise BackupError(f"{path} is not valid JSON: {error}") from None
        if data.get("format") != FORMAT:
            raise BackupError(
                f"{path} is backup format {data.get('format')!r}; this release reads {FORMAT}"
            )
        data.pop("format")
        try:
            return cls(**data)
        except TypeError as error:
            raise BackupError(f"{path} is not a manifest this release can read: {error}") from None


def _private_file(path: Path) -> None:
    """Create `path` empty and readable by its owner alone, before anything writes to it."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _new_folder(folder: Path) -> Path:
    """The folder to write into: a private sibling of `folder`, renamed to it when done."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} exists and is not empty: give a new folder for the backup")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f".{folder.name}.partial-{secrets.token_hex(4)}")
    partial.mkdir(mode=0o700)
    partial.chmod(0o700)  # whatever the umask
    return partial


def write_backup(config: Config, store: Store, folder: Path, progress: Progress) -> Manifest:
    """Copy the database, the secret key and a manifest into the new folder `folder`; the
    site may go on running and writing. Raises BackupError (nothing left behind) when the
    folder is taken or the copy cannot be made."""
    folder = folder.expanduser().absolute()
    partial = _new_folder(folder)
    try:
        kind = store.dialect
        name = DATABASE_FILES[kind]
        target = partial / name
        _private_file(target)
        snapshot: Snapshot
        if kind == "sqlite":  # sqlite3 writes into the empty file, keeping its mode
            snapshot = backup_sqlite(store, target, progress)
        else:
            snapshot = backup_postgresql(store, config.database_url, target, progress)
        sums = {name: _sha256(target)}
        key_source = _copy_secret_key(config, partial)
        if key_source == "file":
            sums[SECRET_KEY] = _sha256(partial / SECRET_KEY)
        manifest = Manifest(
            database=kind,
            file=name,
            revision=snapshot.revision,
            tables=snapshot.tables,
            stats=snapshot.stats,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            release=__version__,
            secret_key=key_source,
            sha256=sums,
            tool=snapshot.tool,
        )
        _private_file(partial / MANIFEST)
        (partial / MANIFEST).write_text(json.dumps(manifest.as_json(), indent=2) + "\n")
        if folder.exists():
            folder.rmdir()  # empty (checked above); rename will not replace it otherwise
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _copy_secret_key(config: Config, partial: Path) -> str:
    if config.secret_key:
        return "setting"  # the operator keeps it with the rest of the configuration
    source = Path(config.data_dir).expanduser() / SECRET_KEY
    if not source.is_file():
        return "none"
    _private_file(partial / SECRET_KEY)
    (partial / SECRET_KEY).write_text(source.read_text())
    return "file"


def restore_backup(config: Config, folder: Path, progress: Progress) -> Manifest:
    """Bring the backup in `folder` into the configured database, which must hold no rows,
    and its secret key into the data folder; then migrate to this release's schema. Raises
    BackupError, before changing anything, when the folder is incomplete or altered, made
    by a newer release, for the other kind of database, or the database is not empty."""
    folder = folder.expanduser().absolute()
    manifest = Manifest.read(folder)
    _verify(folder, manifest)
    target = open_store(config.database_url, migrate=False)
    try:
        if target.dialect != manifest.database:
            raise BackupError(
                f"this backup is of a {manifest.database} database and database_url is "
                f"{target.dialect}: restore into {manifest.database}"
            )
        full = clear_for_restore(target)
        if full:
            raise BackupError(
                "the database is not empty (rows in "
                + ", ".join(full)
                + "): restore goes only into an empty database; point database_url at a "
                "new one"
            )
    finally:
        target.close()
    source = folder / manifest.file
    if manifest.database == "sqlite":
        restore_sqlite(source, config.database_url, progress)
    else:
        made_by = int((manifest.tool or "pg_dump 0").split()[-1].split(".")[0])
        restore_postgresql(source, config.database_url, made_by, progress)
    restored = open_store(config.database_url, migrate=False)
    try:
        with restored.connect() as conn:
            counts = {k: v for k, v in table_counts(conn).items() if k in manifest.tables}
            stats = catalog_stats(conn)
        if counts != manifest.tables or stats != manifest.stats:
            wrong = sorted(k for k in manifest.tables if counts.get(k) != manifest.tables[k])
            differ = ", ".join(wrong) if wrong else "none; the stats differ"
            raise BackupError(
                "the restored database does not hold what the backup's manifest recorded "
                f"(tables that differ: {differ}); it holds what the database file held: "
                "empty it before restoring again"
            )
        migrate_store(restored)
    finally:
        restored.close()
    if manifest.secret_key == "file":  # noqa: S105 (where the key was, not the key)
        _restore_secret_key(config, folder)
    return manifest


def _verify(folder: Path, manifest: Manifest) -> None:
    if manifest.revision is not None and not known_revision(manifest.revision):
        raise BackupError(
            f"this backup's schema is at migration {manifest.revision}, which this release "
            f"({__version__}) does not know: restore it with dailypapers {manifest.release} "
            "or newer"
        )
    for name, expected in manifest.sha256.items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"{path} is missing: the backup is incomplete")
        if _sha256(path) != expected:
            raise BackupError(f"{path} does not match its sha256 in {MANIFEST}: it was altered")


def _restore_secret_key(config: Config, folder: Path) -> None:
    target = Path(config.data_dir).expanduser() / SECRET_KEY
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(SECRET_KEY + ".restoring")
    temporary.unlink(missing_ok=True)
    _private_file(temporary)
    temporary.write_text((folder / SECRET_KEY).read_text())
    temporary.replace(target)
