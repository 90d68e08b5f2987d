"""Mistral OCR as the emulator serves it: real page counts and text layers, made-up annotations.

Theory of operation: `ocr(body)` decodes the document from its base64 `data:` URL (Vertex takes
nothing else, PROTOCOL.md §2.3), recognises it by its first bytes, picks the requested pages and
renders each into the response shape of `mistral-ocr-2505`:

- PDF: `pypdf` gives the page count, each page's text layer (the page's markdown) and its
  media box, reported in pixels at 200 dpi.  Without pypdf the pages are counted by their
  `/Type /Page` objects and reported as blank A4 pages.
- PNG, JPEG, GIF, WebP: one page whose size is read from the image header; the page is also
  the one image of the response, so `include_image_base64`, `image_limit` and
  `image_min_size` have something to act on.
- `document_annotation_format` / `bbox_annotation_format` (json_schema only) yield JSON
  strings that validate against their schema, seeded by the document's bytes.

Requests the service refuses (remote URLs, broken base64, unknown formats, pages that do not
exist, more than 30 pages) raise `BodyError` with status 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable

from mistral_gcp.emulator.backend_schema import instance
from mistral_gcp.emulator.backend_text import digest, seeded
from mistral_gcp.emulator.backend_validate import BodyError

try:
    from pypdf import PdfReader
except ImportError:  # pragma: no cover - the emulator extra brings pypdf
    PdfReader = None

MAX_PAGES = 30
DPI = 200
DEFAULT_MODEL = "mistral-ocr-2505"
_A4_POINTS = (595.28, 841.89)


@dataclass(frozen=True)
class _Page:
    markdown: str
    width: int
    height: int
    image: tuple[str, bytes] | None = None  # (file extension, bytes) when the page is an image


def ocr(body: dict[str, Any], *, allow_remote_urls: bool = False,
        model: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(response JSON, extra response headers) for a validated OCR body."""
    url = _document_url(body["document"])
    if url.startswith("data:"):
        data = _decode(url)
        count, render = _reader(data)
    elif allow_remote_urls:
        data = b""
        count, render = 1, lambda _: _Page(
            f"(The emulator did not fetch {url}; this page stands in for it.)", *_pixels(*_A4_POINTS))
    else:
        raise BodyError.bad_request(
            "Vertex AI accepts documents only as base64 data URLs (data:<media type>;base64,...);"
            " download the document and send its bytes instead of a link")
    selected = _selected(body.get("pages"), count)
    fingerprint = hashlib.blake2b(data, digest_size=16).hexdigest()
    bbox_schema = _annotation_schema(body, "bbox_annotation_format")
    doc_schema = _annotation_schema(body, "document_annotation_format")
    image_budget = body.get("image_limit")
    smallest = body.get("image_min_size") or 0
    pages = []
    for index in selected:
        page = render(index)
        images = []
        if page.image and image_budget != 0 and min(page.width, page.height) >= smallest:
            with_bytes = body.get("include_image_base64")
            images.append(_image_entry(page, index, with_bytes, bbox_schema, fingerprint))
            image_budget = None if image_budget is None else image_budget - 1
        pages.append({"index": index, "markdown": page.markdown, "images": images,
                      "dimensions": {"dpi": DPI, "height": page.height, "width": page.width}})
    annotation = _annotate(doc_schema, [fingerprint, "document"])
    response = {"pages": pages, "model": body.get("model") or model or DEFAULT_MODEL,
                "document_annotation": annotation,
                "usage_info": {"pages_processed": len(pages), "doc_size_bytes": len(data)}}
    return response, {"x-pages-processed": str(len(pages))}


def _document_url(document: dict[str, Any]) -> str:
    if document.get("type") == "file" or "file_id" in document:
        raise BodyError.bad_request(
            "file_id documents need the Mistral Files API, which Vertex AI does not offer;"
            " send the document as a base64 data URL")
    url = document.get("document_url") or document.get("image_url")
    return url.get("url", "") if isinstance(url, dict) else str(url or "")


def _decode(url: str) -> bytes:
    header, comma, payload = url[len("data:"):].partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise BodyError.bad_request("The data URL must be base64 encoded: data:<media type>;base64,<data>")
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BodyError.bad_request("The data URL does not hold valid base64") from None
    if not data:
        raise BodyError.bad_request("The document is empty")
    return data


def _pixels(width_points: float, height_points: float) -> tuple[int, int]:
    return round(width_points * DPI / 72), round(height_points * DPI / 72)


def _reader(data: bytes) -> tuple[int, Callable[[int], _Page]]:
    """(page count, page index -> page) for the document in `data`."""
    if b"%PDF-" in data[:1024]:
        return _pdf(data) if PdfReader is not None else _pdf_without_pypdf(data)
    size = image_size(data)
    if size is None:
        raise BodyError.bad_request("Unsupported document format: expected a PDF or a PNG, JPEG,"
                                    " GIF or WebP image")
    kind, width, height = size
    markdown = f"![img-0.{kind}](img-0.{kind})\n\nA {kind.upper()} image of {width} by {height} pixels."
    return 1, lambda _: _Page(markdown, width, height, (kind, data))


def _pdf(data: bytes) -> tuple[int, Callable[[int], _Page]]:
    try:
        reader = PdfReader(io.BytesIO(data))
        count = len(reader.pages)
    except Exception as exc:  # pypdf raises many kinds for a damaged file
        raise BodyError.bad_request(f"The PDF could not be read: {exc}") from None

    def render(index: int) -> _Page:
        page = reader.pages[index]
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        if (page.rotation or 0) % 180:
            width, height = height, width
        try:
            text = page.extract_text() or ""
        except Exception:  # a page whose text layer pypdf cannot decode reads as blank
            text = ""
        return _Page(_markdown(text), *_pixels(width, height))

    return count, render


def _pdf_without_pypdf(data: bytes) -> tuple[int, Callable[[int], _Page]]:
    count = len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))
    if not count:
        raise BodyError.bad_request("The PDF could not be read: no pages found")
    return count, lambda _: _Page("", *_pixels(*_A4_POINTS))


def _markdown(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _selected(pages: list[int] | str | None, count: int) -> list[int]:
    """The 0-based page numbers asked for (`[0, 2]` or `"0,2-4"`), sorted and checked."""
    if pages is None:
        wanted = list(range(count))
    elif isinstance(pages, str):
        wanted = []
        for part in filter(None, (p.strip() for p in pages.split(","))):
            first, _, last = part.partition("-")
            if not (first.strip().isdigit() and (not last or last.strip().isdigit())):
                raise BodyError.bad_request(f"Invalid page range {part!r}; use a form like '0,2-4'")
            wanted.extend(range(int(first), int(last or first) + 1))
    else:
        wanted = list(pages)
    wanted = sorted(set(wanted))
    missing = [p for p in wanted if p >= count]
    if missing:
        raise BodyError.bad_request(
            f"Page {missing[0]} does not exist: the document has {count} pages, numbered from 0")
    if len(wanted) > MAX_PAGES:
        raise BodyError.bad_request(
            f"At most {MAX_PAGES} pages can be processed per request; {len(wanted)} were requested")
    return wanted


def _annotation_schema(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    fmt = body.get(key)
    if not fmt:
        return None
    if fmt.get("type") != "json_schema" or not fmt.get("json_schema"):
        raise BodyError.bad_request(f"{key} must be a response format of type json_schema")
    return fmt["json_schema"].get("schema", {})


def _annotate(schema: dict[str, Any] | None, salt: list[Any]) -> str | None:
    if schema is None:
        return None
    return json.dumps(instance(schema, seeded(digest([*salt, schema]))))


def _image_entry(page: _Page, index: int, include_base64: Any, schema: dict[str, Any] | None,
                 fingerprint: str) -> dict[str, Any]:
    kind, data = page.image  # type: ignore[misc]
    name = f"img-{index}.{kind}"
    mime = "jpeg" if kind == "jpg" else kind
    entry: dict[str, Any] = {
        "id": name, "top_left_x": 0, "top_left_y": 0,
        "bottom_right_x": page.width, "bottom_right_y": page.height,
        "image_base64": f"data:image/{mime};base64,{base64.b64encode(data).decode()}" if include_base64 else None,
    }
    if schema is not None:
        entry["image_annotation"] = _annotate(schema, [fingerprint, name])
    return entry


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(extension, width, height) from a PNG, JPEG, GIF or WebP header, or None."""
    for magic, reader in _IMAGE_HEADERS:
        if data.startswith(magic):
            try:
                return reader(data)
            except (struct.error, IndexError, ValueError):
                return None
    return None


def _png(data: bytes) -> tuple[str, int, int]:
    width, height = struct.unpack(">II", data[16:24])  # IHDR is always the first chunk
    return "png", width, height


def _jpeg(data: bytes) -> tuple[str, int, int] | None:
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            at += 1
            continue
        marker = data[at + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:  # fill or bare markers
            at += 1 if marker == 0xFF else 2
            continue
        # start-of-frame markers carry the size; C4, C8 and CC share the range but do not
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return "jpeg", width, height
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return None


def _gif(data: bytes) -> tuple[str, int, int]:
    width, height = struct.unpack("<HH", data[6:10])
    return "gif", width, height


def _webp(data: bytes) -> tuple[str, int, int] | None:
    if data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return "webp", 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return "webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return "webp", width & 0x3FFF, height & 0x3FFF
    return None


_IMAGE_HEADERS: tuple[tuple[bytes, Callable[[bytes], tuple[str, int, int] | None]], ...] = (
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8", _jpeg),
    (b"GIF87a", _gif),
    (b"GIF89a", _gif),
    (b"RIFF", _webp),
)
