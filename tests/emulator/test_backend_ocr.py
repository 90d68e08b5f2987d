"""Mistral OCR in the emulator, fed with PDFs and images built byte by byte in the test."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from mistral_gcp.emulator import backend, backend_ocr
from mistral_gcp.emulator.backend import BodyError
from mistral_gcp.emulator.backend_ocr import image_size

MODEL = "mistral-ocr-2505"


def make_pdf(texts: list[str], size: tuple[int, int] = (612, 792)) -> bytes:
    """A PDF with one page per text, each drawn in Helvetica, and a correct xref table."""
    count = len(texts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count)), count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(texts):
        stream = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text.encode("latin-1")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
                       % (size[0], size[1], 5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x80\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def data_url(data: bytes, media: str) -> str:
    return f"data:{media};base64,{base64.b64encode(data).decode()}"


def pdf_body(texts: list[str], **extra: Any) -> dict[str, Any]:
    url = data_url(make_pdf(texts), "application/pdf")
    return {"model": MODEL, "document": {"type": "document_url", "document_url": url}, **extra}


def png_body(width: int = 40, height: int = 30, **extra: Any) -> dict[str, Any]:
    url = data_url(make_png(width, height), "image/png")
    return {"model": MODEL, "document": {"type": "image_url", "image_url": {"url": url}}, **extra}


def refused(body: dict[str, Any], **kw: Any) -> str:
    backend.validate(body, "ocr")
    with pytest.raises(BodyError) as caught:
        backend.ocr(body, **kw)
    assert caught.value.status == 400 and caught.value.payload["object"] == "error"
    return caught.value.payload["message"]


def test_a_pdf_gives_its_pages_text_and_size() -> None:
    texts = ["Hello page one", "Second page here", "Third and last"]
    body = pdf_body(texts)
    assert backend.operation_of(body) == "ocr" and backend.validate(body, "ocr") is body
    response, headers = backend.ocr(body)
    assert [p["index"] for p in response["pages"]] == [0, 1, 2]
    assert [p["markdown"] for p in response["pages"]] == texts
    assert response["pages"][0]["dimensions"] == {"dpi": 200, "height": 2200, "width": 1700}
    assert all(p["images"] == [] for p in response["pages"])
    assert response["model"] == MODEL and response["document_annotation"] is None
    assert response["usage_info"] == {"pages_processed": 3,
                                      "doc_size_bytes": len(make_pdf(texts))}
    assert headers == {"x-pages-processed": "3"}


@pytest.mark.parametrize(("pages", "expected"), [
    ([4, 0, 2, 2], [0, 2, 4]),
    ("0,2-4", [0, 2, 3, 4]),
    (" 1 ", [1]),
])
def test_pages_select_what_is_processed(pages: Any, expected: list[int]) -> None:
    response, headers = backend.ocr(pdf_body([f"Page {i}" for i in range(5)], pages=pages))
    assert [p["index"] for p in response["pages"]] == expected
    assert [p["markdown"] for p in response["pages"]] == [f"Page {i}" for i in expected]
    assert headers["x-pages-processed"] == str(len(expected))


def test_more_than_thirty_pages_are_refused() -> None:
    texts = [f"p{i}" for i in range(31)]
    assert "30 pages" in refused(pdf_body(texts))
    response, _ = backend.ocr(pdf_body(texts, pages="0-29"))
    assert response["usage_info"]["pages_processed"] == 30


@pytest.mark.parametrize("pages", [[3], "1-3", "two"])
def test_pages_that_do_not_exist_are_refused(pages: Any) -> None:
    refused(pdf_body(["a", "b"], pages=pages))


def test_a_link_is_refused_unless_remote_urls_are_allowed() -> None:
    body = {"model": MODEL, "document": {"type": "document_url", "document_url": "https://x.test/a.pdf"}}
    assert "data URL" in refused(body)
    response, headers = backend.ocr(body, allow_remote_urls=True)
    assert len(response["pages"]) == 1 and "https://x.test/a.pdf" in response["pages"][0]["markdown"]
    assert headers == {"x-pages-processed": "1"}


@pytest.mark.parametrize("url", [
    "data:application/pdf;base64,@@not base64@@",
    "data:application/pdf,%PDF-1.4",
    "data:application/pdf;base64,",
    "data:text/plain;base64," + base64.b64encode(b"just words").decode(),
    "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 broken").decode(),
])
def test_undecodable_documents_are_refused(url: str) -> None:
    refused({"model": MODEL, "document": {"type": "document_url", "document_url": url}})


def test_a_file_id_is_refused() -> None:
    assert "Files API" in refused({"model": None, "document": {"type": "file", "file_id": "abc"}})


def test_a_png_is_one_page_of_its_own_size_with_one_image() -> None:
    response, _ = backend.ocr(png_body(40, 30))
    (page,) = response["pages"]
    assert page["dimensions"] == {"dpi": 200, "height": 30, "width": 40}
    assert "img-0.png" in page["markdown"]
    (image,) = page["images"]
    assert image["id"] == "img-0.png" and image["image_base64"] is None
    assert (image["bottom_right_x"], image["bottom_right_y"]) == (40, 30)
    assert response["usage_info"]["doc_size_bytes"] == len(make_png(40, 30))


def test_image_options_shape_the_image_list() -> None:
    response, _ = backend.ocr(png_body(include_image_base64=True))
    encoded = response["pages"][0]["images"][0]["image_base64"]
    assert encoded.startswith("data:image/png;base64,")
    assert base64.b64decode(encoded.split(",", 1)[1]) == make_png(40, 30)
    assert backend.ocr(png_body(image_limit=0))[0]["pages"][0]["images"] == []
    assert backend.ocr(png_body(image_min_size=31))[0]["pages"][0]["images"] == []
    assert len(backend.ocr(png_body(image_min_size=30))[0]["pages"][0]["images"]) == 1


def test_image_sizes_come_from_the_headers() -> None:
    jpeg = (b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + bytes(9)
            + b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 480, 640, 3) + bytes(12))
    gif = b"GIF89a" + struct.pack("<HH", 320, 200) + bytes(10)
    webp = b"RIFF" + bytes(4) + b"WEBPVP8X" + bytes(8) + (99).to_bytes(3, "little") + (49).to_bytes(3, "little")
    assert image_size(make_png(7, 3)) == ("png", 7, 3)
    assert image_size(jpeg) == ("jpeg", 640, 480)
    assert image_size(gif) == ("gif", 320, 200)
    assert image_size(webp) == ("webp", 100, 50)
    assert image_size(b"nothing") is None
    response, _ = backend.ocr({"model": MODEL, "document": {
        "type": "image_url", "image_url": data_url(jpeg, "image/jpeg")}})
    assert response["pages"][0]["dimensions"] == {"dpi": 200, "height": 480, "width": 640}


class Invoice(BaseModel):
    number: str
    total: float
    lines: list[str]


class Figure(BaseModel):
    caption: str
    kind: str


def annotation_format(model: type[BaseModel]) -> dict[str, Any]:
    return {"type": "json_schema",
            "json_schema": {"name": model.__name__, "schema": model.model_json_schema()}}


def test_annotations_validate_against_their_schemas() -> None:
    body = png_body(document_annotation_format=annotation_format(Invoice),
                    bbox_annotation_format=annotation_format(Figure))
    backend.validate(body, "ocr")
    response, _ = backend.ocr(body)
    Invoice.model_validate_json(response["document_annotation"])
    jsonschema.validate(json.loads(response["document_annotation"]), Invoice.model_json_schema())
    Figure.model_validate_json(response["pages"][0]["images"][0]["image_annotation"])
    assert backend.ocr(body)[0] == response  # deterministic
    pdf_response, _ = backend.ocr(pdf_body(["x"], document_annotation_format=annotation_format(Invoice)))
    Invoice.model_validate_json(pdf_response["document_annotation"])


def test_annotation_formats_must_be_json_schema() -> None:
    assert "json_schema" in refused(png_body(document_annotation_format={"type": "json_object"}))


def test_the_url_model_fills_in_for_a_null_model() -> None:
    body = {**png_body(), "model": None}
    assert backend.ocr(body, model="mistral-ocr-2505@x")[0]["model"] == "mistral-ocr-2505@x"
    assert backend.ocr(body)[0]["model"] == MODEL


def test_without_pypdf_pages_are_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_ocr, "PdfReader", None)
    response, headers = backend.ocr(pdf_body(["a", "b", "c", "d"], pages=[1, 3]))
    assert [p["index"] for p in response["pages"]] == [1, 3]
    assert headers == {"x-pages-processed": "2"}
    assert response["pages"][0]["dimensions"]["dpi"] == 200
