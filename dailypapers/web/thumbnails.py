"""`/thumbnails/<hash>.<format>`: the images the thumbnail backfill rendered
(services/thumbnails.py), read from the data folder (written there from the database the first
time this machine is asked for one it lacks). A file's name is its content hash, so
its URL names one image forever and browsers and proxies may keep it for a year."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ..domain.errors import NotFound
from ..services.thumbnails import local_thumbnail
from .site import SiteDep

router = APIRouter()

# Only names the backfill writes: nothing else under the data folder can be asked for.
FILE_NAME = re.compile(r"[0-9a-f]{24}\.(webp|png)")
MEDIA_TYPES = {"webp": "image/webp", "png": "image/png"}
IMMUTABLE = "public, max-age=31536000, immutable"


@router.get("/thumbnails/{file}", include_in_schema=False, name="thumbnail")
def thumbnail(site: SiteDep, file: str) -> FileResponse:
    """One thumbnail image, with its Content-Type and a year-long, immutable Cache-Control."""
    match = FILE_NAME.fullmatch(file)
    path = local_thumbnail(site.store, site.config, file) if match else None
    if match is None or path is None:
        raise NotFound("No such thumbnail.")
    return FileResponse(
        path, media_type=MEDIA_TYPES[match[1]], headers={"Cache-Control": IMMUTABLE}
    )
