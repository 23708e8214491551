"""PDFs made on the spot for the thumbnail tests and bench/thumbnails.py: pages of text in
Helvetica with a photo-like image, written by PDFium (pypdfium2) itself, and an encrypted
PDF written by hand (pypdfium2 cannot encrypt), so no test depends on a saved file."""

from __future__ import annotations

import ctypes
import hashlib
import io
import random
import zlib

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

LINE = "We study the problem of learning from few examples and report results on {n} tasks."


def _text(document: pdfium.PdfDocument, page: pdfium.PdfPage, text: str, x: float, y: float):
    obj = pdfium_c.FPDFPageObj_NewTextObj(document.raw, b"Helvetica", 10.0)
    buffer = (text + "\0").encode("utf-16-le")
    pdfium_c.FPDFText_SetText(
        obj, ctypes.cast(ctypes.c_char_p(buffer), ctypes.POINTER(pdfium_c.FPDF_WCHAR))
    )
    pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
    pdfium_c.FPDFPage_InsertObject(page.raw, obj)


def make_pdf(
    pages: int = 1,
    *,
    lines: int = 45,
    image: tuple[int, int] | None = (320, 200),
    size: tuple[float, float] = (612, 792),
    seed: int = 1,
) -> bytes:
    """A PDF of `pages` US-letter pages, each with `lines` lines of text and, when `image`
    gives its pixel size, a noisy RGB picture stored as JPEG (noise compresses as badly as a
    photograph)."""
    rng = random.Random(seed)
    document = pdfium.PdfDocument.new()
    width, height = size
    for number in range(pages):
        page = document.new_page(width, height)
        for line in range(lines):
            _text(
                document,
                page,
                f"{number}.{line} " + LINE.format(n=rng.randint(2, 99)),
                60,
                height - 60 - line * 14,
            )
        if image is not None:
            # A JPEG, as figures and photographs in papers mostly are.
            picture = Image.effect_noise(image, 40 + number % 30).convert("RGB")
            jpeg = io.BytesIO()
            picture.save(jpeg, "JPEG", quality=85)
            jpeg.seek(0)
            placed = pdfium.PdfImage.new(document)
            placed.load_jpeg(jpeg, inline=True)
            shown = (min(image[0], 400), min(image[0], 400) * image[1] / image[0])
            placed.set_matrix(pdfium.PdfMatrix().scale(*shown).translate(100, 80))
            page.insert_obj(placed)
        page.gen_content()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def encrypted_pdf(user_password: bytes = b"secret") -> bytes:
    """A one-page PDF under the standard security handler (revision 2, RC4 40-bit) that needs
    `user_password` to open, written by hand (PDF 1.7 section 7.6.3, algorithms 2, 3 and 4)."""
    file_id = b"0123456789abcdef"
    padded = (user_password + _PAD)[:32]
    owner_key = hashlib.md5(padded).digest()[:5]  # noqa: S324 (the format's own algorithm)
    owner = _rc4(owner_key, padded)
    permissions = (-4).to_bytes(4, "little", signed=True)
    key = hashlib.md5(padded + owner + permissions + file_id).digest()[:5]  # noqa: S324
    user = _rc4(key, _PAD)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <"
        + owner.hex().encode()
        + b"> /U <"
        + user.hex().encode()
        + b"> /P -4 >>",
    ]
    ids = b"<%s> <%s>" % (file_id.hex().encode(), file_id.hex().encode())
    return _assemble(objects, b" /Encrypt 4 0 R /ID [" + ids + b"]")


def slow_pdf(segments: int = 100_000) -> bytes:
    """A valid one-page PDF whose page strokes `segments` separate lines: PDFium takes seconds
    to draw it (about 0.1 ms a line here), which is how a renderer's time limit is tested. The
    content stream is Flate-compressed, so the file stays small."""
    lines = b"".join(
        b"%d %d m %d %d l S\n" % (i % 600, i * 7 % 780, i * 13 % 600, i * 3 % 780)
        for i in range(segments)
    )
    stream = zlib.compress(lines, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return _assemble(objects, b"")


def _assemble(objects: list[bytes], trailer_extra: bytes) -> bytes:
    """Objects 1..n, a cross-reference table and a trailer with `/Root 1 0 R`."""
    body = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer_extra,
        xref,
    )
    return bytes(body)
