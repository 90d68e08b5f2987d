"""OCR: every kind of document input becomes a data: URL; big bodies take streamRawPredict; annotations come back parsed."""

from __future__ import annotations

import base64
import io
from typing import List

import pytest
from pydantic import BaseModel

from mistral_gcp import models
from mistral_gcp._ocr import media_type
from mistral_gcp.errors import RequestValidationError

from features.documents import pdf_bytes, png_bytes
from helpers import serve_files

OCR_MODEL = "mistral-ocr-2505"


def _sent_document(emulator) -> dict:
    return emulator.last_request.body["document"]


def _decoded(url: str) -> bytes:
    return base64.b64decode(url.partition(",")[2])


@pytest.mark.parametrize("kind", ["path", "path_string", "bytes", "file", "bytes_io", "data_url", "wire_dict", "wire_model"])
def test_document_inputs_become_base64_data_urls(emulator, both, tmp_path, pdf, kind):
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    data_url = "data:application/pdf;base64," + base64.b64encode(pdf).decode()
    document = {
        "path": path,
        "path_string": str(path),
        "bytes": pdf,
        "file": None,
        "bytes_io": io.BytesIO(pdf),
        "data_url": data_url,
        "wire_dict": {"type": "document_url", "document_url": data_url},
        "wire_model": models.DocumentURLChunk(document_url=data_url),
    }[kind]
    handle = open(path, "rb") if kind == "file" else None
    try:
        res = both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=handle or document)
    finally:
        if handle:
            handle.close()
    assert isinstance(res, models.OCRResponse)
    assert [p.index for p in res.pages] == [0, 1]
    assert res.pages[0].dimensions == models.OCRPageDimensions(dpi=200, height=2200, width=1700)
    assert res.usage_info.pages_processed == 2 and res.usage_info.doc_size_bytes == len(pdf)
    sent = _sent_document(emulator)
    assert sent["type"] == "document_url"
    assert sent["document_url"].startswith("data:application/pdf;base64,")
    assert _decoded(sent["document_url"]) == pdf
    if kind in ("path", "path_string", "file"):
        assert sent["document_name"] == "report.pdf"
    assert emulator.last_request.path.endswith("/models/mistral-ocr-2505:rawPredict")


def test_images_are_sent_as_image_url_and_options_reach_the_service(emulator, both, png):
    res = both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=png,
                    include_image_base64=True, image_limit=1, image_min_size=10, pages=[0])
    sent = emulator.last_request.body
    assert sent["document"] == {"type": "image_url", "image_url": "data:image/png;base64," + base64.b64encode(png).decode()}
    assert (sent["include_image_base64"], sent["image_limit"], sent["image_min_size"], sent["pages"]) == (True, 1, 10, [0])
    [image] = res.pages[0].images
    assert isinstance(image, models.OCRImageObject)
    assert (image.bottom_right_x, image.bottom_right_y) == (64, 48)
    assert _decoded(image.image_base64) == png


@pytest.mark.parametrize("data, name, expected", [
    (b"%PDF-1.7 ...", None, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n....", None, "image/png"),
    (b"\xff\xd8\xff\xe0....", None, "image/jpeg"),
    (b"GIF89a....", None, "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp"),
    (b"II*\x00....", None, "image/tiff"),
    (b"MM\x00*....", None, "image/tiff"),
    (b"\x00\x00\x00\x1cftypavif....", None, "image/avif"),
    (b"\x89PNG\r\n\x1a\n....", "scan.pdf", "image/png"),  # the bytes win over the name
    (b"plain bytes", "notes.pdf", "application/pdf"),  # unknown bytes: the extension decides
    (b"plain bytes", None, "application/octet-stream"),
])
def test_media_type_by_magic_bytes_then_name(data, name, expected):
    assert media_type(data, name) == expected


def test_http_urls_are_downloaded_by_the_client_first(emulator, both, pdf):
    files = {"/docs/paper.pdf": (200, pdf, "application/octet-stream"), "/moved": (302, b"/docs/paper.pdf", "text/plain")}
    with serve_files(files) as base:
        for url in (f"{base}/docs/paper.pdf", f"{base}/moved"):
            res = both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=url)
            assert len(res.pages) == 2
            sent = _sent_document(emulator)
            assert sent["document_url"].startswith("data:application/pdf;base64,") and _decoded(sent["document_url"]) == pdf
        # an http(s) URL inside a wire chunk is fetched too: Vertex would refuse it
        both.call(emulator.client().ocr, "process", model=OCR_MODEL,
                  document={"type": "document_url", "document_url": f"{base}/docs/paper.pdf"})
        assert _decoded(_sent_document(emulator)["document_url"]) == pdf


def test_a_failed_download_is_a_clear_error_and_nothing_is_sent(emulator, both):
    with serve_files({}) as base:
        with pytest.raises(RequestValidationError, match=r"downloading .*/missing.pdf failed: HTTP 404"):
            both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=f"{base}/missing.pdf")
    assert emulator.requests == []


def test_missing_local_file_is_a_clear_error(emulator, both, tmp_path):
    with pytest.raises(RequestValidationError, match="cannot read the document"):
        both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=tmp_path / "nope.pdf")
    assert emulator.requests == []


def test_bodies_over_10_mb_take_stream_raw_predict_and_get_plain_json(emulator, both):
    big = png_bytes(padding=9 * 2**20)  # 12 MB once base64-encoded
    res = both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=big)
    assert isinstance(res, models.OCRResponse) and res.usage_info.doc_size_bytes == len(big)
    assert emulator.last_request.path.endswith(":streamRawPredict")
    assert res._meta.status_code == 200


def test_bodies_over_30_mb_are_refused_before_sending(emulator, both):
    huge = png_bytes(padding=23 * 2**20)  # 30.7 MB once base64-encoded
    with pytest.raises(RequestValidationError, match="at most 30 MB"):
        both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=huge)
    assert emulator.requests == []


class Invoice(BaseModel):
    number: str
    total: float
    lines: List[str]


class Figure(BaseModel):
    caption: str


def test_annotation_formats_take_pydantic_models_and_come_back_parsed(emulator, both, png):
    res = both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=png,
                    document_annotation_format=Invoice, bbox_annotation_format=Figure,
                    document_annotation_prompt="Extract the invoice")
    sent = emulator.last_request.body
    fmt = sent["document_annotation_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Invoice"
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"number", "total", "lines"}
    assert sent["bbox_annotation_format"]["json_schema"]["name"] == "Figure"
    assert sent["document_annotation_prompt"] == "Extract the invoice"
    assert isinstance(res.document_annotation, str)  # the raw field stays as the official model has it
    assert res.document_annotation_parsed == Invoice.model_validate_json(res.document_annotation)
    image = res.pages[0].images[0]
    assert isinstance(image.image_annotation_parsed, Figure)
    assert image.image_annotation_parsed == Figure.model_validate_json(image.image_annotation)


def test_wire_annotation_formats_are_sent_as_given_and_not_parsed(emulator, both, png):
    fmt = {"type": "json_schema", "json_schema": {"name": "doc", "schema": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}
    res = both.call(emulator.client().ocr, "process", model=OCR_MODEL, document=png, document_annotation_format=fmt)
    assert emulator.last_request.body["document_annotation_format"]["json_schema"]["name"] == "doc"
    assert res.document_annotation is not None and res.document_annotation_parsed is None
