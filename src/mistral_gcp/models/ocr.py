"""OCR shapes (``mistral-ocr-2505``): the request TypedDict and the typed response.

The wire fields are Mistral's own (PROTOCOL.md §2.3). Annotations arrive as JSON strings in
``document_annotation`` and ``image_annotation``, as in the official models; when the caller
gave a pydantic model as the annotation format, ``ocr.process`` also fills the ``*_parsed``
accessors with validated objects.
"""

from __future__ import annotations

from typing import Any, List, Literal, Optional, Union

from pydantic import Discriminator, Field, PrivateAttr, Tag
from typing_extensions import Annotated, Required, TypedDict

from ..types import BaseModel
from .chat import Count, DocumentURLChunk, ImageURLChunk, ResponseFormat, _Tagged, tag_of

__all__ = [
    "FileChunk", "OCRDocument", "OCRImageObject", "OCRPageDimensions", "OCRPageObject",
    "OCRRequest", "OCRRequestTypedDict", "OCRResponse", "OCRUsageInfo",
]


class FileChunk(_Tagged):
    """A document uploaded to Mistral's Files API. Vertex has no Files API, so Vertex refuses it."""

    type: Literal["file"] = "file"
    file_id: str


OCRDocument = Annotated[
    Union[
        Annotated[DocumentURLChunk, Tag("document_url")],
        Annotated[ImageURLChunk, Tag("image_url")],
        Annotated[FileChunk, Tag("file")],
    ],
    Discriminator(
        tag_of,
        custom_error_type="invalid_document",
        custom_error_message="a document needs a 'type': 'document_url', 'image_url' or 'file'",
    ),
]


class OCRRequest(TypedDict, total=False):
    """The body of an OCR request. Only the keys given are sent."""

    model: Required[str]
    document: Required[OCRDocument]
    id: str
    pages: Optional[Union[List[Count], str]]
    include_image_base64: Optional[bool]
    image_limit: Optional[Count]
    image_min_size: Optional[Count]
    bbox_annotation_format: Optional[ResponseFormat]
    document_annotation_format: Optional[ResponseFormat]
    document_annotation_prompt: Optional[str]
    table_format: Optional[Literal["markdown", "html"]]
    extract_header: Optional[bool]
    extract_footer: Optional[bool]
    include_blocks: Optional[bool]
    confidence_scores_granularity: Optional[Literal["word", "page", "block"]]


OCRRequestTypedDict = OCRRequest


class OCRImageObject(BaseModel):
    """An image found on a page; ``image_base64`` only with ``include_image_base64=True``."""

    id: str = ""
    top_left_x: Optional[int] = None
    top_left_y: Optional[int] = None
    bottom_right_x: Optional[int] = None
    bottom_right_y: Optional[int] = None
    image_base64: Optional[str] = None
    image_annotation: Optional[str] = None
    _annotation: Any = PrivateAttr(default=None)

    @property
    def image_annotation_parsed(self) -> Any:
        """The annotation validated by the ``bbox_annotation_format`` model given to ``process``, else None."""
        return self._annotation


class OCRPageDimensions(BaseModel):
    dpi: int = 0
    height: int = 0
    width: int = 0


class OCRPageObject(BaseModel):
    index: int = 0
    markdown: str = ""
    images: List[OCRImageObject] = Field(default_factory=list)
    dimensions: Optional[OCRPageDimensions] = None


class OCRUsageInfo(BaseModel):
    pages_processed: int = 0
    doc_size_bytes: Optional[int] = None


class OCRResponse(BaseModel):
    pages: List[OCRPageObject] = Field(default_factory=list)
    model: str = ""
    document_annotation: Optional[str] = None
    usage_info: OCRUsageInfo = Field(default_factory=OCRUsageInfo)
    _annotation: Any = PrivateAttr(default=None)

    @property
    def document_annotation_parsed(self) -> Any:
        """The annotation validated by the ``document_annotation_format`` model given to ``process``, else None."""
        return self._annotation
