"""``doctor``: what the SDK would use, checked one step at a time, each line ok or failed + the fix.

Steps: project, region, endpoint, credentials (type and principal), quota project, a token, and
a one-token chat request. A failed step says how to fix it; steps that need it say why they
were not tried. Nothing here prints a token: the token step reports only that one was obtained
and how long it lives.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import click

from ._common import CHAT_MODEL, Target, cli, target_options

#: google-auth credentials module → what to call them
CREDENTIAL_KINDS: Tuple[Tuple[str, str], ...] = (
    ("google.oauth2.service_account", "service account key"),
    ("google.auth.compute_engine", "metadata server (GCE, Cloud Run, GKE)"),
    ("google.auth.impersonated_credentials", "impersonated service account"),
    ("google.auth.external_account_authorized_user", "external account (workforce identity)"),
    ("google.auth.identity_pool", "workload identity federation"),
    ("google.auth.aws", "workload identity federation (AWS)"),
    ("google.auth.pluggable", "workload identity federation (executable)"),
    ("google.oauth2.credentials", "user account (gcloud auth application-default login)"),
)

#: error class name → the fix to print ({project}, {model}, {principal}, {url} are filled in)
REQUEST_FIXES: Tuple[Tuple[str, str], ...] = (
    ("AuthenticationError", "the service refused the token: log in again (gcloud auth application-default login) or check the key"),
    ("PermissionDeniedError", "grant the principal Vertex AI access: gcloud projects add-iam-policy-binding {project} --member=serviceAccount:{principal} --role=roles/aiplatform.user (user:EMAIL for a person); if the message says SERVICE_DISABLED: gcloud services enable aiplatform.googleapis.com --project {project}"),
    ("NotFoundError", "enable {model} for {project} in Vertex AI Model Garden, or choose a region that serves it (--region us-central1 or europe-west4)"),
    ("BadRequestError", "if the message says FAILED_PRECONDITION, enable {model} (accept its terms) in Vertex AI Model Garden for {project}"),
    ("RateLimitError", "a quota is exhausted: wait a minute, or request more in the console (IAM & Admin → Quotas)"),
    ("NoResponseError", "no answer from {url}: check the network or proxy settings, or --server-url"),
    ("ServerError", "Vertex AI failed on its side: try again later"),
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: Optional[str] = None


def _print(check: Check) -> None:
    mark = click.style("ok    ", fg="green") if check.ok else click.style("failed", fg="red", bold=True)
    click.echo(f"{mark}  {check.name:<14} {check.detail}")
    if check.fix:
        click.echo(f"{'':8}{'':15}fix: {check.fix}")


def _source(given: Optional[str], env: Tuple[str, ...], otherwise: str) -> str:
    if given:
        return "from the command line"
    name = next((e for e in env if os.environ.get(e)), None)
    return f"from ${name}" if name else otherwise


def _credential_kind(auth: Any) -> str:
    if auth._static is not None:
        return "fixed access token"
    if auth._provider is not None:
        return "token provider"
    module = type(auth._credentials).__module__
    return next((kind for prefix, kind in CREDENTIAL_KINDS if module.startswith(prefix)), type(auth._credentials).__name__)


def _principal(auth: Any) -> str:
    creds = auth._credentials
    for attribute in ("service_account_email", "signer_email", "account"):
        value = getattr(creds, attribute, None)
        if isinstance(value, str) and value and value != "default":
            return value
    return "unknown"


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def diagnose(client: Any, target: Target, model: str) -> List[Check]:
    """Run every step; a step whose prerequisite failed is reported as not tried."""
    from .._auth import PROJECT_ENV
    from .._catalogue import lookup
    from .._client import REGION_ENV
    from .._endpoints import path_for
    from ..errors import MistralGCPError

    auth = client._auth
    checks: List[Check] = []
    try:
        project: Optional[str] = auth.project()
        checks.append(Check("project", True, f"{project} ({_source(target.project, PROJECT_ENV, 'from the emulator' if target.emulator else 'from the credentials')})"))
    except MistralGCPError as exc:
        project = None
        checks.append(Check("project", False, _one_line(exc), "pass --project ID, or export GOOGLE_CLOUD_PROJECT=ID"))

    info = lookup(model)
    region_detail = f"{client.region} ({_source(target.region, REGION_ENV, 'the default')})"
    if info is not None and client.region not in info.regions:
        checks.append(Check("region", False, f"{region_detail}: {model} is not served there", f"--region {' or '.join(info.regions)}"))
    else:
        checks.append(Check("region", True, region_detail))
    url = client.server_url + path_for(project or "PROJECT", client.region, model, False)
    checks.append(Check("endpoint", True, url))

    try:
        if not auth._loaded:
            auth._load_sync()
    except MistralGCPError as exc:
        login = "gcloud auth application-default login, or export GOOGLE_APPLICATION_CREDENTIALS=/path/to/key.json"
        checks.append(Check("credentials", False, _one_line(exc), login))
        checks.append(Check("token", False, "not tried: no credentials"))
        checks.append(Check("request", False, "not tried: no token"))
        return checks
    token_error: Optional[BaseException] = None
    try:
        auth.headers()  # the token itself is never shown
    except MistralGCPError as exc:
        token_error = exc
    principal = _principal(auth)  # after the token: the metadata server names its account on refresh
    checks.append(Check("credentials", True, f"{_credential_kind(auth)}, principal {principal}"))
    quota = auth._quota_project or getattr(auth._credentials, "quota_project_id", None)
    quota_detail = f"{quota} (sent as x-goog-user-project)" if quota else f"none (usage is billed to {project or 'the project'})"
    checks.append(Check("quota project", True, quota_detail))
    if token_error is not None:
        checks.append(Check("token", False, _one_line(token_error), "check the credentials above; gcloud auth application-default login renews user credentials"))
        checks.append(Check("request", False, "not tried: no token"))
        return checks
    expiry = getattr(auth._credentials, "expiry", None)
    lifetime = f", valid for {int((expiry.timestamp() - _utc_now()) // 60)} more minutes" if expiry is not None else ""
    checks.append(Check("token", True, f"obtained{lifetime}"))
    if project is None:
        checks.append(Check("request", False, "not tried: no project"))
        return checks

    started = time.monotonic()
    try:
        client.chat.complete(model=model, messages=[{"role": "user", "content": "Say OK."}], max_tokens=1, retries=None)
    except MistralGCPError as exc:
        names = {cls.__name__ for cls in type(exc).__mro__}
        fix = next((text for name, text in REQUEST_FIXES if name in names), None)
        if fix:
            fix = fix.format(project=project, model=model, principal=principal, url=client.server_url)
        checks.append(Check("request", False, _one_line(exc), fix))
        return checks
    checks.append(Check("request", True, f"1-token chat with {model} answered in {(time.monotonic() - started) * 1000:.0f} ms"))
    return checks


def _utc_now() -> float:
    import datetime

    # google-auth keeps expiry as a naive UTC datetime
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).timestamp()


@cli.command()
@click.option("-m", "--model", default=CHAT_MODEL, show_default=True, help="Model for the test request.")
@target_options
@click.pass_context
def doctor(ctx: click.Context, model: str, target: Target) -> None:
    """Check project, region, credentials and access, and say how to fix what fails.

    Exits 0 when every check passes, 1 otherwise. Never prints a token.
    """
    checks = diagnose(target.client(ctx), target, model)
    for check in checks:
        _print(check)
    if not all(check.ok for check in checks):
        ctx.exit(1)
