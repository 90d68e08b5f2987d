"""OCR inputs: whatever the caller has, turned into the ``data:`` URL Vertex insists on.

``ocr.process(document=...)`` takes the wire chunks (``{"type": "document_url", ...}``,
``{"type": "image_url", ...}``), a path, bytes, a binary file object, or an ``http(s)://`` URL.
Vertex accepts only base64 ``data:`` URLs (PROTOCOL.md §2.3), so local inputs are read and
encoded here, and remote ones are downloaded first with the SDK's own HTTP client. The media
type comes from the first bytes (PDF, PNG, JPEG, GIF, WebP, TIFF, AVIF), else from the name.

``plan(params)`` does the pure part, in place, and says what is left: a URL to download and the
annotation types to parse the answer with. ``download``/``download_async`` are the two thin
shells; ``finish`` validates annotations into the requested types.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from . import _parse
from ._endpoints import STREAM_LIMIT, UNARY_LIMIT, MiB
from ._transport_errors import is_transport_error, translate_transport_error
from .errors import RequestValidationError
from .models.ocr import OCRResponse

__all__ = ["Plan", "data_url", "download", "download_async", "media_type", "plan"]

#: A download larger than this cannot fit in 30 MB once base64-encoded.
DOWNLOAD_LIMIT = STREAM_LIMIT * 3 // 4

_MAGIC: Tuple[Tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "application/pdf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (8, b"WEBP", "image/webp"),  # after b"RIFF" and the size
    (4, b"ftypavif", "image/avif"),
    (4, b"ftypavis", "image/avif"),
)


def media_type(data: bytes, name: Optional[str] = None, declared: Optional[str] = None) -> str:
    """The document's media type: by magic bytes, else the server's ``content-type``, else the name."""
    for offset, magic, kind in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return kind
    if declared and declared != "application/octet-stream":
        return declared.split(";")[0].strip()
    if name:
        guessed = mimetypes.guess_type(name)[0]
        if guessed:
            return guessed
    return "application/octet-stream"


def data_url(data: bytes, name: Optional[str] = None, declared: Optional[str] = None) -> Dict[str, Any]:
    """The wire document for some bytes: an ``image_url`` chunk for images, else a ``document_url``."""
    if not data:
        raise RequestValidationError("ocr.process: the document is empty")
    kind = media_type(data, name, declared)
    url = f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
    if kind.startswith("image/"):
        return {"type": "image_url", "image_url": url}
    chunk: Dict[str, Any] = {"type": "document_url", "document_url": url}
    if name:
        chunk["document_name"] = os.path.basename(name)
    return chunk


@dataclass
class Plan:
    """What remains after the pure part: a document to fetch, annotation types to parse into."""

    url: Optional[str]
    document_type: Any
    bbox_type: Any

    def finish(self, response: OCRResponse) -> OCRResponse:
        if self.document_type is not None and response.document_annotation is not None:
            response._annotation = _parse.parse_json(self.document_type, response.document_annotation, response)
        if self.bbox_type is not None:
            for page in response.pages:
                for image in page.images:
                    if image.image_annotation is not None:
                        image._annotation = _parse.parse_json(self.bbox_type, image.image_annotation, response)
        return response


def _is_remote(value: Any) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _remote_url_of(chunk: Any) -> Optional[str]:
    """The http(s) URL inside a wire chunk, if it names one (Vertex would refuse it)."""
    get = chunk.get if isinstance(chunk, dict) else lambda key: getattr(chunk, key, None)
    url = get("document_url") or get("image_url")
    url = url.get("url") if isinstance(url, dict) else getattr(url, "url", url)
    return url if _is_remote(url) else None


def _local(document: Any) -> Any:
    """A wire chunk for a local input (path, bytes, file object); other values are returned as they are."""
    if isinstance(document, (bytes, bytearray, memoryview)):
        return data_url(bytes(document))
    if isinstance(document, os.PathLike) or (isinstance(document, str) and not document.startswith("data:")):
        path = os.fspath(document)
        try:
            with open(path, "rb") as handle:
                return data_url(handle.read(), path)
        except OSError as exc:
            raise RequestValidationError(f"ocr.process: cannot read the document {path!r}: {exc.strerror}") from None
    if isinstance(document, str):  # a data: URL given bare
        kind = document[5:].partition(";")[0]
        key = "image_url" if kind.startswith("image/") else "document_url"
        return {"type": key, key: document}
    if hasattr(document, "read"):
        data = document.read()
        if isinstance(data, str):
            raise RequestValidationError("ocr.process: open the document in binary mode ('rb')")
        return data_url(data, getattr(document, "name", None) if isinstance(getattr(document, "name", None), str) else None)
    return document


def plan(params: Dict[str, Any]) -> Plan:
    """Prepare ``params`` in place: local documents encoded, annotation types turned into formats."""
    document = params.get("document")
    url = document if _is_remote(document) else _remote_url_of(document) if document is not None else None
    if url is None and document is not None:
        params["document"] = _local(document)
    return Plan(
        url,
        _parse.apply_format(params, "document_annotation_format"),
        _parse.apply_format(params, "bbox_annotation_format"),
    )


# --------------------------------------------------------------------------- the download shells


def _http(client: Any, is_async: bool) -> Any:
    if is_async:
        return client._async_client if client._async_client is not None else client._owned.async_client("httpx")
    return client._client if client._client is not None else client._owned.sync_client("httpx")


def _request(http: Any, url: str, timeout_ms: Optional[int]) -> Any:
    kwargs = {"timeout": timeout_ms / 1000} if timeout_ms else {}
    return http.build_request("GET", url, headers={"accept": "*/*"}, **kwargs)


def _check(url: str, response: Any) -> None:
    if response.status_code >= 300:
        raise RequestValidationError(f"ocr.process: downloading {url} failed: HTTP {response.status_code}")
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > DOWNLOAD_LIMIT:
        raise _too_large(url, int(length))


def _too_large(url: str, size: int) -> RequestValidationError:
    return RequestValidationError(
        f"ocr.process: {url} is {size / MiB:.1f} MB; Vertex takes documents up to {DOWNLOAD_LIMIT / MiB:.1f} MB"
        f" ({STREAM_LIMIT // MiB} MB once base64-encoded)"
    )


def _collect(url: str, parts: List[bytes], chunk: bytes, size: int) -> int:
    parts.append(chunk)
    size += len(chunk)
    if size > DOWNLOAD_LIMIT:
        raise _too_large(url, size)
    return size


def _document(url: str, response: Any, parts: List[bytes]) -> Dict[str, Any]:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
    return data_url(b"".join(parts), name, response.headers.get("content-type"))


def download(client: Any, url: str, timeout_ms: Optional[int] = None) -> Dict[str, Any]:
    """Fetch ``url`` with the client's HTTP client and return the wire document for it."""
    http = _http(client, is_async=False)
    try:
        response = http.send(_request(http, url, timeout_ms or client.timeout_ms), stream=True, follow_redirects=True)
        try:
            _check(url, response)
            parts: List[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size = _collect(url, parts, chunk, size)
        finally:
            response.close()
    except Exception as exc:
        if is_transport_error(exc):
            raise translate_transport_error(exc) from exc
        raise
    return _document(url, response, parts)


async def download_async(client: Any, url: str, timeout_ms: Optional[int] = None) -> Dict[str, Any]:
    http = _http(client, is_async=True)
    try:
        response = await http.send(_request(http, url, timeout_ms or client.timeout_ms), stream=True, follow_redirects=True)
        try:
            _check(url, response)
            parts: List[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size = _collect(url, parts, chunk, size)
        finally:
            await response.aclose()
    except Exception as exc:
        if is_transport_error(exc):
            raise translate_transport_error(exc) from exc
        raise
    return _document(url, response, parts)
