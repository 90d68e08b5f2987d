"""Credentials → ``Authorization`` header: lazy, single-flight, never on the event loop.

Sources (give at most one; with none, ADC):
1. ``access_token=`` a fixed string, or a callable (sync or async) returning one per request; a
   sync callable serving an async call runs in a worker thread;
2. ``credentials=`` any google-auth credentials object (service account, impersonated, user,
   external account, compute engine ...), given the cloud-platform scope if it needs scopes;
3. Application Default Credentials (``google.auth.default`` with the cloud-platform scope),
   looked up on the first request, never in the constructor.

Project: ``project_id=`` → ``GOOGLE_CLOUD_PROJECT`` / ``GCLOUD_PROJECT`` → the credentials' own.
Quota project (sent as ``x-goog-user-project``): ``quota_project_id=`` →
``GOOGLE_CLOUD_QUOTA_PROJECT`` → the credentials' ``quota_project_id``.

Validity follows google-auth's own ``token_state``: FRESH tokens are used as they are; a STALE
token (within google-auth's refresh threshold of expiry) is still used while one background
refresh runs; an INVALID token (none, expired, or rejected with a 401) makes callers wait for
the refresh. However many threads or asyncio tasks arrive at once, one refresh runs
(``_SingleFlight``), and a caller that saw the old token after the refresh ended does not start
another; asyncio callers wait for it in a worker thread so the loop keeps running, whichever
loop they are on, and a cancelled waiter does not cancel the refresh the others wait for. A
failed refresh raises ``CredentialsError`` with google-auth's reason, and the next call tries
again.

google-auth is imported only here, and only when google-auth credentials are needed.
"""

from __future__ import annotations

import inspect
import os
import threading
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Optional, Tuple, TypeVar, Union

from .errors import ConfigurationError, CredentialsError

if TYPE_CHECKING:
    import asyncio

__all__ = ["Auth", "CLOUD_PLATFORM_SCOPE", "TokenProvider"]

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
PROJECT_ENV = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")
QUOTA_PROJECT_ENV = "GOOGLE_CLOUD_QUOTA_PROJECT"

TokenProvider = Callable[[], Union[str, Awaitable[str]]]
R = TypeVar("R")


class _SingleFlight:
    """One job at a time; callers arriving while it runs share its outcome (threads and event loops alike)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._future: Optional[Future] = None

    def _claim(self) -> Tuple[Future, bool]:
        with self._lock:
            if self._future is not None:
                return self._future, False
            future: Future = Future()
            # RUNNING from the start: an asyncio waiter that is cancelled then cannot cancel the
            # run the other waiters share (asyncio.wrap_future propagates cancellation).
            future.set_running_or_notify_cancel()
            self._future = future
            return future, True

    def _settle(self, future: Future, job: Callable[[], Any]) -> None:
        result: Any = None
        error: Optional[BaseException] = None
        try:
            result = job()
        except BaseException as exc:  # handed to every waiter
            error = exc
        with self._lock:
            self._future = None
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def run(self, job: Callable[[], R]) -> R:
        """Run ``job`` in this thread, or wait for the run already in flight."""
        future, owner = self._claim()
        if owner:
            self._settle(future, job)
        return future.result()

    def start(self, job: Callable[[], Any]) -> Future:
        """Start ``job`` in a worker thread unless a run is in flight; return the run's future."""
        future, owner = self._claim()
        if owner:
            threading.Thread(target=self._settle, args=(future, job), name="mistral-gcp-auth", daemon=True).start()
        return future

    async def arun(self, job: Callable[[], R]) -> R:
        """Await the run in a worker thread; the event loop is never blocked."""
        import asyncio  # loaded with the first async call, not at import
        return await asyncio.wrap_future(self.start(job))


class Auth:
    """The client's credentials and project, resolved lazily and shared by all its requests."""

    def __init__(
        self,
        *,
        access_token: Union[str, TokenProvider, None],
        credentials: Any,
        project_id: Optional[str],
        quota_project_id: Optional[str],
        http_factory: Callable[[], Any],
    ) -> None:
        self._static: Optional[Dict[str, str]] = None
        self._provider: Optional[TokenProvider] = None
        self._provider_is_async = False
        if access_token is not None and credentials is not None:
            raise ConfigurationError("give access_token or credentials, not both")
        if isinstance(access_token, str):
            if not access_token:
                raise ConfigurationError("access_token is empty")
            self._static = {"authorization": f"Bearer {access_token}"}
        elif access_token is not None:
            if not callable(access_token):
                raise ConfigurationError("access_token must be a string or a callable returning one")
            self._provider = access_token
            self._provider_is_async = inspect.iscoroutinefunction(access_token) or inspect.iscoroutinefunction(
                getattr(access_token, "__call__", None)
            )
        if credentials is not None:
            credentials = _with_cloud_platform_scope(credentials)
        self._credentials = credentials
        self._quota_project = quota_project_id or os.environ.get(QUOTA_PROJECT_ENV) or None
        self._project = project_id or next((os.environ[k] for k in PROJECT_ENV if os.environ.get(k)), None)
        self._adc_project: Optional[str] = None
        self._loaded = credentials is not None or self._static is not None or self._provider is not None
        self._stale_token: Optional[str] = None  # a token the service rejected; refresh before using again
        self._http_factory = http_factory
        self._load_flight = _SingleFlight()
        self._refresh_flight = _SingleFlight()
        if self._static is not None and self._quota_project:
            self._static["x-goog-user-project"] = self._quota_project

    def __repr__(self) -> str:  # never shows a token
        source = "access_token" if self._static else "token_provider" if self._provider else type(self._credentials).__name__
        return f"<Auth source={source} project={self._project!r}>"

    @property
    def can_refresh(self) -> bool:
        return self._static is None

    # ------------------------------------------------------------------ project

    @property
    def project_known(self) -> bool:
        return self._project is not None

    def project(self) -> str:
        if self._project is None and not self._loaded:
            self._load_sync()
        return self._resolved_project()

    async def aproject(self) -> str:
        if self._project is None and not self._loaded:
            await self._load_async()
        return self._resolved_project()

    def _resolved_project(self) -> str:
        if self._project is None:
            creds = self._credentials
            self._project = self._adc_project or getattr(creds, "project_id", None) or None
        if self._project is None:
            raise ConfigurationError(_NO_PROJECT)
        return self._project

    # ------------------------------------------------------------------ headers

    def headers(self) -> Dict[str, str]:
        """Auth headers for one request (sync callers)."""
        if self._static is not None:
            return self._static
        if self._provider is not None:
            token = self._provider()
            if inspect.isawaitable(token):
                close = getattr(token, "close", None)
                if close:
                    close()
                raise ConfigurationError("an async token provider can only serve async calls (complete_async, ...)")
            return self._token_headers(token)
        if not self._loaded:
            self._load_sync()
        refresh, wait = self._refresh_due()
        if refresh is not None:
            if wait:
                self._refresh_flight.run(refresh)
            else:
                self._refresh_flight.start(refresh)
        return self._apply(self._credentials)

    async def aheaders(self) -> Dict[str, str]:
        """Auth headers for one request (asyncio callers): any blocking work runs in a worker thread."""
        if self._static is not None:
            return self._static
        if self._provider is not None:
            # a sync provider may do I/O (a vault, a subprocess): keep it off the event loop
            import asyncio  # loaded with the first async call, not at import
            token = self._provider() if self._provider_is_async else await asyncio.to_thread(self._provider)
            if inspect.isawaitable(token):
                token = await token
            return self._token_headers(token)
        if not self._loaded:
            await self._load_async()
        refresh, wait = self._refresh_due()
        if refresh is not None:
            if wait:
                await self._refresh_flight.arun(refresh)
            else:
                self._refresh_flight.start(refresh)
        return self._apply(self._credentials)

    def invalidate(self, rejected_headers: Dict[str, str]) -> None:
        """The service answered 401 to these headers: make the next caller refresh (once)."""
        token = getattr(self._credentials, "token", None)
        if token and rejected_headers.get("authorization") == f"Bearer {token}":
            self._stale_token = token

    def _token_headers(self, token: Any) -> Dict[str, str]:
        if not isinstance(token, str) or not token:
            raise CredentialsError("the token provider returned no token (expected a non-empty string)")
        headers = {"authorization": f"Bearer {token}"}
        if self._quota_project:
            headers["x-goog-user-project"] = self._quota_project
        return headers

    def _apply(self, creds: Any) -> Dict[str, str]:
        headers: Dict[str, str] = {}
        creds.apply(headers)
        if self._quota_project:
            headers["x-goog-user-project"] = self._quota_project
        return headers

    def _refresh_due(self) -> Tuple[Optional[Callable[[], None]], bool]:
        """(the refresh to run or None, whether the caller must wait for it): google-auth's rules."""
        creds = self._credentials
        state = self._state(creds)
        if state == "FRESH":
            return None, False
        return partial(self._refresh, getattr(creds, "token", None)), state == "INVALID"

    def _state(self, creds: Any) -> str:
        if self._stale_token is not None and getattr(creds, "token", None) == self._stale_token:
            return "INVALID"
        state = getattr(creds, "token_state", None)
        if state is not None:
            return state.name
        return "FRESH" if creds.valid else "INVALID"

    # ------------------------------------------------------------------ loading and refreshing (worker side)

    def _load_sync(self) -> None:
        self._load_flight.run(self._load)

    async def _load_async(self) -> None:
        await self._load_flight.arun(self._load)

    def _load(self) -> None:
        """Application Default Credentials, once. Runs in a worker thread for asyncio callers."""
        if self._loaded:
            return
        import google.auth
        import google.auth.exceptions

        try:
            creds, project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE], request=self._google_request())
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise CredentialsError(_NO_CREDENTIALS.format(reason=exc), reason=str(exc)) from exc
        self._credentials = creds
        self._adc_project = project
        self._loaded = True

    def _refresh(self, seen_token: Optional[str]) -> None:
        """Refresh, unless a flight that ended after the caller looked has already replaced ``seen_token``."""
        import google.auth.exceptions

        creds = self._credentials
        if getattr(creds, "token", None) != seen_token and self._state(creds) != "INVALID":
            return
        try:
            creds.refresh(self._google_request())
        except google.auth.exceptions.GoogleAuthError as exc:
            raise CredentialsError(
                f"could not refresh the Google access token ({type(creds).__name__}): {exc}", reason=str(exc)
            ) from exc
        self._stale_token = None

    def _google_request(self) -> Any:
        from ._google_transport import HttpxRequest

        return HttpxRequest(self._http_factory())


def _with_cloud_platform_scope(credentials: Any) -> Any:
    """Credentials that need scopes (a service-account key, an external account) get cloud-platform."""
    if not (callable(getattr(credentials, "refresh", None)) and callable(getattr(credentials, "apply", None))):
        raise ConfigurationError(
            f"credentials must be a google-auth credentials object (with refresh() and apply()), "
            f"not {type(credentials).__name__}; for a bare token string use access_token="
        )
    from google.auth.credentials import with_scopes_if_required

    return with_scopes_if_required(credentials, [CLOUD_PLATFORM_SCOPE])


_NO_PROJECT = """no Google Cloud project found. Tried, in order:
  1. the project_id= argument;
  2. the GOOGLE_CLOUD_PROJECT and GCLOUD_PROJECT environment variables;
  3. the project of the credentials (service-account key, gcloud ADC file, metadata server).
Fix it with one of:
  MistralGCP(project_id="my-project", ...)
  export GOOGLE_CLOUD_PROJECT=my-project
  gcloud config set project my-project && gcloud auth application-default set-quota-project my-project"""

_NO_CREDENTIALS = """no Google credentials found. Tried, in order:
  1. the access_token= and credentials= arguments;
  2. GOOGLE_APPLICATION_CREDENTIALS (a key or ADC file);
  3. gcloud's application-default credentials file;
  4. the GCE/Cloud Run/GKE metadata server.
Fix it with one of:
  gcloud auth application-default login
  export GOOGLE_APPLICATION_CREDENTIALS=/path/to/key.json
  MistralGCP(credentials=my_google_credentials, ...) or MistralGCP(access_token="...")
google-auth said: {reason}"""
