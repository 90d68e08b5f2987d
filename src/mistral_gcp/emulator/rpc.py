"""google.rpc.Status error bodies, as Google's front end sends them (PROTOCOL.md §3.A).

A :class:`Problem` is a platform error decided by pure code (routing, auth, quota, faults);
the ASGI shell turns it into bytes with :meth:`Problem.encode`: 2-space pretty-printed JSON,
optionally wrapped in a one-element array (seen on streaming methods). The builders below
hold the exact wording of each message so that no other module spells one out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SERVICE = "aiplatform.googleapis.com"
METHOD_PREFIX = "google.cloud.aiplatform.v1.PredictionService."
RPC_METHOD = {"rawPredict": METHOD_PREFIX + "RawPredict", "streamRawPredict": METHOD_PREFIX + "StreamRawPredict"}
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"

# HTTP status → (canonical code, default message). Used for injected faults; 408 and 502
# have no canonical mapping in Google's table, so these pairs are our choice [I].
BY_HTTP_STATUS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential. "
        "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    405: ("UNIMPLEMENTED", "Method not allowed on this path."),
    408: ("DEADLINE_EXCEEDED", "Request timed out."),
    413: ("INVALID_ARGUMENT", "Request payload size exceeds the limit."),
    429: ("RESOURCE_EXHAUSTED", "Resource exhausted, please try again later."),
    500: ("INTERNAL", "Internal error encountered."),
    502: ("UNAVAILABLE", "Bad gateway."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}


@dataclass(frozen=True)
class Problem:
    """A platform error: HTTP status, canonical code, message and optional details."""

    status: int
    code: str
    message: str
    details: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message, "status": self.code}
        if self.details:
            error["details"] = list(self.details)
        return {"error": error}

    def encode(self, wrap: bool = False) -> bytes:
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False)
        return ("[" + text + "\n]\n" if wrap else text + "\n").encode()


def from_status(status: int, message: str | None = None, details: tuple[dict[str, Any], ...] = ()) -> Problem:
    code, default = BY_HTTP_STATUS.get(status, ("UNKNOWN", "Unknown error."))
    return Problem(status, code, message or default, details)


def error_info(reason: str, domain: str = "googleapis.com", **metadata: str) -> dict[str, Any]:
    return {"@type": ERROR_INFO, "reason": reason, "domain": domain, "metadata": metadata}


def model_resource(project: str, location: str, model: str, publisher: str = "mistralai") -> str:
    return f"projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"


def invalid_json(detail: str) -> Problem:
    return from_status(400, f"Invalid JSON payload received. {detail}")


def unauthenticated(reason: str, method: str) -> Problem:
    """401; ``reason`` is ACCESS_TOKEN_EXPIRED, CREDENTIALS_MISSING or ACCESS_TOKEN_TYPE_UNSUPPORTED."""
    message = BY_HTTP_STATUS[401][1]
    if reason == "CREDENTIALS_MISSING":
        message = (
            "API keys are not supported by this API. Expected OAuth2 access token or other "
            "authentication credentials that assert a principal. "
            "See https://cloud.google.com/docs/authentication"
        )
    info = error_info(reason, service=SERVICE, method=RPC_METHOD.get(method, METHOD_PREFIX + method))
    return from_status(401, message, (info,))


def permission_denied(resource: str) -> Problem:
    full = f"//{SERVICE}/{resource}"
    message = f"Permission 'aiplatform.endpoints.predict' denied on resource '{full}' (or it may not exist)."
    info = error_info(
        "IAM_PERMISSION_DENIED", SERVICE, permission="aiplatform.endpoints.predict", resource=resource
    )
    return from_status(403, message, (info,))


def quota_project_required(project: str) -> Problem:
    message = (
        "Your application is authenticating by using local Application Default Credentials. "
        f"The {SERVICE} API requires a quota project, which is not set by default. To learn how "
        "to set your quota project, see https://cloud.google.com/docs/authentication/adc-troubleshooting/user-creds ."
    )
    info = error_info("SERVICE_DISABLED", service=SERVICE, consumer=f"projects/{project}")
    return from_status(403, message, (info,))


def model_not_found(resource: str) -> Problem:
    return from_status(
        404,
        f"Publisher Model `{resource}` was not found or your project does not have access to it. "
        "Please ensure you are using a valid model version. For more information, see: "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
    )


def path_not_found(path: str) -> Problem:
    return from_status(404, f"The requested URL {path} was not found on this server.")


def model_not_enabled(project: str, resource: str) -> Problem:
    return Problem(400, "FAILED_PRECONDITION", f"Project `{project}` is not allowed to use Publisher Model `{resource}`")


def quota_exceeded(base_model: str, tokens: bool = False) -> Problem:
    metric = "online_prediction_input_tokens_per_minute_per_base_model" if tokens else "online_prediction_requests_per_base_model"
    return from_status(
        429,
        f"Quota exceeded for {SERVICE}/{metric} with base model: {base_model}. Please submit a quota "
        "increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",
    )


def payload_too_large(limit: int) -> Problem:
    return from_status(413, f"Request payload size exceeds the limit: {limit} bytes.")
