"""The first page of a PDF as a small image (WebP, or PNG where Pillow lacks WebP), rendered
by PDFium (pypdfium2) in a child process.

PDFs from the network are untrusted input for a large C library. A crash, a hang or a memory
blow-up in PDFium must cost one thumbnail, never the process that asked: `render_files` runs a
child (`python -m dailypapers.ingest.pdf_render`) per batch with its address space capped and
an alarm per document; a child that dies takes the document it was on with it, and the rest
of the batch goes on in a fresh child. The image is bounded too: `width` pixels wide, and a
page taller than `max_height` at that width is cut at the bottom.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# PDFium's load errors (fpdfview.h): a password is needed, or the security handler refused.
_PASSWORD_ERRORS = {4, 5}
# What a PDF may carry before its `%PDF-` header (readers accept junk ahead of it).
_HEADER_WINDOW = 1024


@dataclass(frozen=True)
class RenderLimits:
    """How big an image and how much a child may take: pixels wide, tallest image in pixels,
    seconds per document and the child's address space in MiB."""

    width: int = 400
    max_height: int = 800
    seconds: int = 30
    memory_mib: int = 1536
    format: str = "webp"


@dataclass(frozen=True)
class Rendered:
    """A rendered first page: the image file written next to its PDF and its size."""

    path: Path
    width: int
    height: int
    format: str


@dataclass(frozen=True)
class RenderFailed:
    """Why a PDF gave no image: `reason` is one word ("corrupt", "encrypted", "not-pdf",
    "crashed", "render-timeout", "memory"), `error` says more."""

    reason: str
    error: str


def image_format() -> str:
    """ "webp" when this Pillow can write WebP, else "png"."""
    from PIL import features

    return "webp" if features.check("webp") else "png"


def looks_like_pdf(body: bytes) -> bool:
    """Whether `body` has a PDF header near its start.

    >>> looks_like_pdf(b"%PDF-1.7\\n..."), looks_like_pdf(b"<!DOCTYPE html>")
    (True, False)
    """
    return b"%PDF-" in body[:_HEADER_WINDOW]


def render_first_page(pdf: bytes, limits: RenderLimits) -> tuple[bytes, int, int]:
    """The first page of `pdf` as image bytes in `limits.format`, with its width and height.
    Raises ValueError("reason: message") when the PDF cannot give one. Runs PDFium in this
    process: call it in a child (render_files) for PDFs from the network."""
    import pypdfium2 as pdfium

    if not looks_like_pdf(pdf):
        raise ValueError("not-pdf: the body has no PDF header")
    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as error:
        reason = "encrypted" if error.err_code in _PASSWORD_ERRORS else "corrupt"
        raise ValueError(f"{reason}: {error}") from None
    try:
        if len(document) == 0:
            raise ValueError("corrupt: the document has no pages")
        page = document[0]
        page_width, page_height = page.get_size()
        if (
            not (math.isfinite(page_width) and math.isfinite(page_height))
            or min(page_width, page_height) < 1
        ):
            raise ValueError(f"corrupt: first page is {page_width} x {page_height} points")
        scale = limits.width / page_width
        # The bottom of a page taller than max_height at this width is cut (in points).
        cut = max(0.0, page_height - limits.max_height / scale)
        bitmap = page.render(scale=scale, crop=(0, cut, 0, 0))
        image = bitmap.to_pil().convert("RGB")
    except pdfium.PdfiumError as error:
        raise ValueError(f"corrupt: {error}") from None
    finally:
        document.close()
    out = io.BytesIO()
    if limits.format == "webp":
        # method 2 of 0-6: half the encoding time of the default 4 for a file 1% larger
        # (bench/thumbnails.py); encoding, not PDFium, is most of a thumbnail's time.
        image.save(out, "WEBP", quality=80, method=2)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue(), image.width, image.height


def _child(limits: RenderLimits, names: list[str], folder: Path) -> None:
    """The child's loop: for each `<name>` in `folder`, render `<name>` to `<name>.img` and
    print one JSON line before (`start`) and one after (the outcome), flushed, so the parent
    knows which document a crash interrupted."""
    import resource

    cap = limits.memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a hung render ends the child
    for name in names:
        print(json.dumps({"start": name}), flush=True)
        signal.alarm(limits.seconds)
        try:
            data, width, height = render_first_page((folder / name).read_bytes(), limits)
        except ValueError as error:
            reason, _, message = str(error).partition(": ")
            outcome: dict[str, object] = {"reason": reason, "error": message}
        except MemoryError:
            outcome = {"reason": "memory", "error": f"over {limits.memory_mib} MiB"}
        else:
            temporary = folder / f"{name}.img.part"
            temporary.write_bytes(data)
            os.replace(temporary, folder / f"{name}.img")
            outcome = {"width": width, "height": height}
        signal.alarm(0)
        print(json.dumps({"done": name, **outcome}), flush=True)


def _death(returncode: int, stderr: bytes, limits: RenderLimits) -> RenderFailed:
    if returncode == -signal.SIGALRM:
        return RenderFailed("render-timeout", f"PDFium took over {limits.seconds}s")
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return RenderFailed("crashed", f"the renderer died of {name}")
    last = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return RenderFailed("crashed", f"the renderer exited with status {returncode}: {last[0]}")


def _child_env() -> dict[str, str]:
    """The environment with this package's folder first on the path, so the child runs the
    same code as its parent wherever that was imported from."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, path]))}


def render_files(
    folder: Path, names: list[str], limits: RenderLimits
) -> dict[str, Rendered | RenderFailed]:
    """Render the first page of each PDF `folder/<name>` in child processes; every name gets
    an outcome. Images are `folder/<name>.img`."""
    outcomes: dict[str, Rendered | RenderFailed] = {}
    remaining = list(names)
    while remaining:
        command = [sys.executable, "-m", __name__, json.dumps(asdict(limits)), str(folder)]
        try:
            finished = subprocess.run(  # noqa: S603 (our own module, names we chose)
                [*command, *remaining],
                capture_output=True,
                timeout=limits.seconds * len(remaining) + 30,
                check=False,
                env=_child_env(),
            )
            stdout, stderr, returncode = finished.stdout, finished.stderr, finished.returncode
        except subprocess.TimeoutExpired as expired:
            stdout, stderr, returncode = expired.stdout or b"", b"", -signal.SIGALRM
        current: str | None = None
        for line in stdout.decode(errors="replace").splitlines():
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # half a line from a child that died while printing
            if "start" in message:
                current = message["start"]
                continue
            name = message.pop("done")
            current = None
            if "reason" in message:
                outcomes[name] = RenderFailed(message["reason"], message["error"])
            else:
                path = folder / f"{name}.img"
                outcomes[name] = Rendered(path, message["width"], message["height"], limits.format)
        if current is not None:
            outcomes[current] = _death(returncode, stderr, limits)
        else:
            # The child ended without starting these (it could not even start): all fail,
            # rather than a fresh child failing the same way forever.
            for name in remaining:
                outcomes.setdefault(name, _death(returncode, stderr, limits))
        remaining = [name for name in remaining if name not in outcomes]
    return outcomes


if __name__ == "__main__":
    _child(RenderLimits(**json.loads(sys.argv[1])), sys.argv[3:], Path(sys.argv[2]))
