"""``mistral-gcp ocr``: a local file or a URL in, markdown (or JSON) out."""

from __future__ import annotations

import json

from features.documents import pdf_bytes, png_bytes

from helpers import serve_files


def test_ocr_of_a_pdf_writes_the_pages_markdown(emulator, run, tmp_path):
    document = tmp_path / "report.pdf"
    document.write_bytes(pdf_bytes(pages=3))
    result = run("ocr", str(document), "--pages", "0,2")
    assert result.exit_code == 0, result.output
    request = emulator.last_request
    assert request.path.endswith("/models/mistral-ocr-2505:rawPredict")
    assert request.body["pages"] == [0, 2]
    assert request.body["document"]["document_url"].startswith("data:application/pdf;base64,")
    answer = run("ocr", str(document), "--pages", "0,2", "--json")
    pages = json.loads(answer.stdout)["pages"]
    assert [p["index"] for p in pages] == [0, 2]
    assert result.stdout == "\n\n".join(p["markdown"] for p in pages) + "\n"


def test_ocr_to_a_file_and_from_a_url(emulator, run, tmp_path):
    out = tmp_path / "scan.md"
    with serve_files({"/scan.png": (200, png_bytes(), "image/png")}) as url:
        from_url = run("ocr", f"{url}/scan.png", "--json")
    assert from_url.exit_code == 0, from_url.output
    assert emulator.last_request.body["document"]["image_url"].startswith("data:image/png;base64,")
    image = tmp_path / "scan.png"
    image.write_bytes(png_bytes())
    to_file = run("ocr", str(image), "-o", str(out))
    assert to_file.exit_code == 0, to_file.output
    assert "Wrote 1 page(s)" in to_file.stderr
    assert out.read_text() == "\n\n".join(p["markdown"] for p in json.loads(from_url.stdout)["pages"]) + "\n"


def test_ocr_of_a_missing_file_is_a_usage_error(emulator, run, tmp_path):
    result = run("ocr", str(tmp_path / "nope.pdf"))
    assert result.exit_code == 2
    assert "neither a file nor an http(s) URL" in result.stderr
    assert emulator.requests == []
