"""Where requests go: Vertex hosts per location, and the ``:rawPredict`` path. Pure functions.

Hosts (PROTOCOL.md §1.2): a region ``R`` is served at ``https://R-aiplatform.googleapis.com``;
``global`` at ``https://aiplatform.googleapis.com``; the multi-regions ``us``/``eu`` at
``https://aiplatform.{us,eu}.rep.googleapis.com``. Each path segment is checked against a strict
pattern, so no project, location or model can change the path or add a query.
"""

from __future__ import annotations

import ipaddress
import re
import warnings
from typing import Mapping, Optional
from urllib.parse import urlsplit

from . import _catalogue
from .errors import ConfigurationError, RequestValidationError

__all__ = ["SERVERS", "base_url", "check_base_url", "check_model", "check_project", "check_region", "path_for"]

#: Named servers for ``MistralGCP(server=...)``; ``{region}`` is filled from the client's region.
SERVERS: Mapping[str, str] = {
    "regional": "https://{region}-aiplatform.googleapis.com",
    "global": "https://aiplatform.googleapis.com",
    "us": "https://aiplatform.us.rep.googleapis.com",
    "eu": "https://aiplatform.eu.rep.googleapis.com",
}

MiB = 1024 * 1024
#: Vertex's body limits: rawPredict takes 10 MB; streamRawPredict takes 30 MB (and answers OCR
#: with plain JSON, PROTOCOL.md §2.3).
UNARY_LIMIT = 10 * MiB
STREAM_LIMIT = 30 * MiB

_PROJECT = re.compile(r"[a-z0-9][a-z0-9.:-]{0,62}")  # ids, numbers, and domain-scoped "example.com:proj"
_REGION = re.compile(r"[a-z]+(?:-[a-z0-9]+)*")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}(?:@[A-Za-z0-9._-]{1,64})?")


def base_url(region: str, server: Optional[str] = None) -> str:
    """The API host for a location; ``server`` picks a named entry of :data:`SERVERS` instead."""
    if server is not None:
        try:
            return SERVERS[server].format(region=region)
        except KeyError:
            raise ConfigurationError(f"unknown server {server!r}; expected one of {sorted(SERVERS)}") from None
    if region in _catalogue.SPECIAL_LOCATIONS:  # global, us, eu: hosts of their own, no region prefix
        return SERVERS[region]
    return SERVERS["regional"].format(region=region)


def check_project(project: str) -> str:
    if not isinstance(project, str) or not _PROJECT.fullmatch(project) or ".." in project:
        raise ConfigurationError(
            f"invalid project id {project!r}: expected lowercase letters, digits and hyphens (or a project number)"
        )
    return project


def check_region(region: str) -> str:
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ConfigurationError(f"invalid region {region!r}: expected a location such as 'europe-west4' or 'global'")
    if region not in _catalogue.SPECIAL_LOCATIONS and region not in _catalogue.SERVED_REGIONS:
        _warn(f"Mistral models are not known to be served in {region!r}; known regions: {', '.join(_catalogue.SERVED_REGIONS)}")
    return region


def check_model(model: object) -> str:
    """Validate a model id for use in the URL; warn (once) when it is outside the catalogue."""
    if not isinstance(model, str) or not _MODEL.fullmatch(model) or ".." in model:
        raise RequestValidationError(
            f"invalid model id {model!r}: expected letters, digits, '.', '_' or '-', optionally '@version'"
        )
    info = _catalogue.lookup(model)
    if info is None:
        _warn(f"model {model!r} is not in mistral-gcp's catalogue of Vertex models; sending it anyway", 6)
    elif info.retired:
        _warn(f"model {model!r} was retired on Vertex ({info.retired}); expect a 404", 6)
    return model


def path_for(project: str, region: str, model: str, stream: bool) -> str:
    method = "streamRawPredict" if stream else "rawPredict"
    return f"/v1/projects/{project}/locations/{region}/publishers/mistralai/models/{model}:{method}"


def template_url(url: str, params: Mapping[str, str]) -> str:
    for key, value in params.items():
        url = url.replace("{" + key + "}", value)
    return url


def check_base_url(url: str, allow_http: bool) -> str:
    """An absolute http(s) URL with no query or fragment; plain http only to loopback unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"server_url must be an absolute http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"server_url must not carry a query or fragment: {url!r}")
    if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http:// to a non-loopback host ({parts.hostname}): tokens would travel unencrypted. "
            "Use https, or pass allow_http=True if this is really what you want."
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn(message: str, stacklevel: int = 4) -> None:
    """A warning pointed at the caller's line (Python's default filter shows it once per line).
    ``stacklevel`` counts this function, the check, and the SDK frames above it."""
    warnings.warn(message, UserWarning, stacklevel=stacklevel)
