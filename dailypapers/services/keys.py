"""The site's secret key: the configured one, or one made once and kept in the data folder.
The web signs session cookies with it and the digest signs its links (confirm, unsubscribe,
manage), so the key lives here, where both the site and the CLI find the same one."""

from __future__ import annotations

import secrets
from pathlib import Path


def load_secret_key(configured: str | None, data_dir: str) -> str:
    """The configured key, or one generated once and kept in <data_dir>/secret_key (0600)."""
    if configured:
        return configured
    path = Path(data_dir).expanduser() / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return path.read_text().strip()
