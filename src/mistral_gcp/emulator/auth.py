"""Auth for the emulator: bearer-token checks and the side-services google-auth talks to.

Everything here is pure (no sockets): the ASGI shell in ``app.py`` passes in headers, form
fields or JSON bodies and sends back what these functions return.

- :class:`TokenBook` issues ``ya29.…`` tokens and remembers their expiry on an injectable
  clock, so tests can "advance time" instead of sleeping.
- :func:`check_bearer` decides the 401 variants of PROTOCOL.md §3.A.
- :func:`token_grant` is the OAuth token endpoint (JWT-bearer, refresh-token and STS token-exchange grants, §5.3).
- :func:`metadata_reply` is the GCE metadata server (§5.2).
- :func:`generate_access_token` is IAM Credentials' ``generateAccessToken`` (§5.6).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import rpc

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # STS, for external-account credentials
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SECRET_FORM_FIELDS = ("assertion", "client_secret", "subject_token")  # never kept in request records
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
SHORT_LIFETIME = 200  # inside google-auth's 225 s (3m45s) refresh threshold: STALE at once, not INVALID
MAX_IAM_LIFETIME = 43_200

Clock = Callable[[], float]


class OffsetClock:
    """Wall-clock time plus an offset that tests move forward with :meth:`advance`."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float
    expires_in: int

    def oauth_json(self) -> dict[str, Any]:
        return {"access_token": self.token, "expires_in": self.expires_in, "token_type": "Bearer"}


class TokenBook:
    """The access tokens this emulator issued, with their expiry times."""

    def __init__(self, clock: Clock, lifetime: int = 3599) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._expiry: dict[str, float] = {}

    def issue(self, lifetime: int | None = None) -> IssuedToken:
        seconds = self.lifetime if lifetime is None else int(lifetime)
        token = "ya29.emu-" + secrets.token_urlsafe(24)
        expires_at = self.clock() + seconds
        self._expiry[token] = expires_at
        return IssuedToken(token, expires_at, seconds)

    def expires_at(self, token: str) -> float | None:
        return self._expiry.get(token)

    def expire_all(self) -> None:
        now = self.clock()
        for token in self._expiry:
            self._expiry[token] = now

    def forget_expired(self) -> None:
        now = self.clock()
        self._expiry = {t: at for t, at in self._expiry.items() if at > now}


def check_bearer(authorization: str | None, book: TokenBook, method: str, permissive: bool = False) -> rpc.Problem | None:
    """None when the ``Authorization`` header may call the API, else the 401 to send."""
    if not authorization or not authorization[:7].lower() == "bearer ":
        return rpc.unauthenticated("CREDENTIALS_MISSING", method)
    expires_at = book.expires_at(authorization[7:].strip())
    if expires_at is None:
        return None if permissive else rpc.unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED", method)
    if book.clock() >= expires_at:
        return rpc.unauthenticated("ACCESS_TOKEN_EXPIRED", method)
    return None


# ---------------------------------------------------------------- OAuth token endpoint


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _oauth_error(error: str, description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": error, "error_description": description}


def _verify_rs256(public_key_pem: bytes, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_public_key(public_key_pem)
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    except InvalidSignature:
        return False
    return True


def decode_jwt(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signed part, signature); raises ValueError when malformed."""
    try:
        head, body, sig = assertion.split(".")
        header, claims = json.loads(_b64url(head)), json.loads(_b64url(body))
        signature = _b64url(sig)
    except (ValueError, binascii.Error) as exc:
        raise ValueError("Invalid JWT: malformed assertion.") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("Invalid JWT: header and claims must be objects.")
    return header, claims, f"{head}.{body}".encode(), signature


def token_grant(
    form: Mapping[str, str], book: TokenBook, public_keys: Mapping[str, bytes], refuse: str = ""
) -> tuple[int, dict[str, Any]]:
    """Answer ``POST /token``: (status, JSON). ``public_keys`` maps client emails to PEM keys
    whose signatures are checked; assertions from other issuers are accepted unsigned-checked.
    ``refuse`` (an OAuth error code) turns every grant down, to exercise failed refreshes.
    The token-exchange grant plays Google's STS for external-account (workload identity) credentials.

    The JWT's ``exp`` is not compared with the emulator clock: tests move that clock forward
    to expire access tokens, and google-auth signs its assertions with the real time.
    """
    grant = form.get("grant_type", "")
    if refuse:
        return _oauth_error(refuse, "Refused by the emulator (token_error option).")
    if grant == TOKEN_EXCHANGE:
        if not form.get("subject_token") or not form.get("subject_token_type") or not form.get("audience"):
            return _oauth_error("invalid_request", "Missing required parameter: subject_token, subject_token_type or audience")
        return 200, {**book.issue().oauth_json(), "issued_token_type": ACCESS_TOKEN_TYPE}
    if grant == "refresh_token":
        if not form.get("refresh_token") or not form.get("client_id"):
            return _oauth_error("invalid_request", "Missing required parameter: refresh_token or client_id")
        return 200, book.issue().oauth_json()
    if grant != JWT_BEARER:
        return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")
    try:
        header, claims, signed, signature = decode_jwt(form.get("assertion", ""))
    except ValueError as exc:
        return _oauth_error("invalid_grant", str(exc))
    issuer = claims.get("iss")
    if claims.get("aud") != GOOGLE_TOKEN_URI:
        return _oauth_error("invalid_grant", f"Invalid JWT: audience must be {GOOGLE_TOKEN_URI}.")
    if not issuer:
        return _oauth_error("invalid_grant", "Invalid JWT: no issuer (client email).")
    if not claims.get("scope"):
        return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    key = public_keys.get(issuer)
    if key is not None and (header.get("alg") != "RS256" or not _verify_rs256(key, signed, signature)):
        return _oauth_error("invalid_grant", "Invalid JWT Signature.")
    return 200, book.issue().oauth_json()


# ---------------------------------------------------------------- GCE metadata server

METADATA_ROOT = "/computeMetadata/v1/"


@dataclass(frozen=True)
class Identity:
    """What the fake metadata server says about "this machine"."""

    project: str
    project_number: str
    email: str


def metadata_reply(path: str, query: Mapping[str, str], flavor: str | None, book: TokenBook, who: Identity) -> tuple[int, str, str]:
    """Answer a metadata GET: (status, content type, body). Needs ``Metadata-Flavor: Google``."""
    if flavor != "Google":
        return 403, "text/html; charset=UTF-8", "Missing Metadata-Flavor:Google header.\n"
    if path == "/":
        return 200, "application/text", "computeMetadata/\n"
    key = path[len(METADATA_ROOT):] if path.startswith(METADATA_ROOT) else None
    account = {"email": who.email, "scopes": [CLOUD_PLATFORM], "aliases": ["default"]}
    texts = {
        "project/project-id": who.project,
        "project/numeric-project-id": who.project_number,
        "universe/universe-domain": "googleapis.com",
    }
    for name in ("default", who.email):
        prefix = f"instance/service-accounts/{name}/"
        texts[prefix + "email"] = who.email
        texts[prefix + "scopes"] = CLOUD_PLATFORM
        if key == prefix + "token":
            return 200, "application/json", json.dumps(book.issue().oauth_json())
        if key == prefix and query.get("recursive") == "true":
            return 200, "application/json", json.dumps(account)
    if key in texts:
        return 200, "application/text", texts[key]
    return 404, "text/html; charset=UTF-8", "Not Found\n"


# ---------------------------------------------------------------- IAM generateAccessToken


def _parse_lifetime(value: Any) -> int | None:
    text = str(value or "3600s")
    try:
        seconds = int(float(text[:-1] if text.endswith("s") else text))
    except ValueError:
        return None
    return seconds if 0 < seconds <= MAX_IAM_LIFETIME else None


def generate_access_token(body: Any, book: TokenBook) -> tuple[int, dict[str, Any]]:
    """Answer ``generateAccessToken`` once the caller's bearer token passed :func:`check_bearer`."""
    if not isinstance(body, dict) or not body.get("scope"):
        return 400, rpc.from_status(400, "Scope required.").to_json()
    lifetime = _parse_lifetime(body.get("lifetime"))
    if lifetime is None:
        return 400, rpc.from_status(400, f"Invalid lifetime: {body.get('lifetime')!r}.").to_json()
    issued = book.issue(lifetime)
    expire_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued.expires_at))
    return 200, {"accessToken": issued.token, "expireTime": expire_time}
