"""The constructor does no I/O; lifetime and ownership of HTTP clients; garbage collection."""

from __future__ import annotations

import sys
import subprocess
import weakref

import httpx2
import pytest

from mistral_gcp import MistralGCP
from mistral_gcp.errors import ConfigurationError

from helpers import CHAT_MODEL, USER


def test_constructor_sends_nothing_and_needs_only_token_and_project(emulator):
    client = MistralGCP(project_id="p1", region="us-central1", access_token=emulator.token, server_url=emulator.url)
    assert emulator.requests == []
    client.chat.complete(model=CHAT_MODEL, messages=USER)
    assert len(emulator.requests) == 1


def test_constructor_without_credentials_does_not_touch_google_auth():
    # A fresh interpreter: constructing a client with no credentials must neither fail nor import google.auth.
    code = (
        "import sys; from mistral_gcp import MistralGCP; c = MistralGCP(); "
        "print('google.auth' in sys.modules, 'httpx2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert out.stdout.split() == ["False", "False"]


def test_a_chat_call_with_a_token_loads_only_what_it_needs(emulator):
    # A fresh interpreter: a sync chat call with an access token needs neither google-auth, nor
    # httpx2 (owned clients speak HTTP/1.1 themselves), nor asyncio, nor OCR, structured outputs or the tool runner.
    lazy = ["asyncio", "google.auth", "httpx2", "httpcore2", "mistral_gcp._ocr", "mistral_gcp._parse", "mistral_gcp._tools"]
    code = (
        "import sys; from mistral_gcp import MistralGCP; "
        f"c = MistralGCP(project_id='p', access_token={emulator.token!r}, server_url={emulator.url!r}); "
        f"r = c.chat.complete(model={CHAT_MODEL!r}, messages=[{{'role': 'user', 'content': 'hi'}}]); "
        "print(bool(r.choices[0].message.content)); "
        f"print(*[m in sys.modules for m in {lazy!r}])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert out.returncode == 0, out.stderr
    answered, loaded = out.stdout.splitlines()
    assert answered == "True"
    assert dict(zip(lazy, loaded.split())) == {name: "False" for name in lazy}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"region": "us-central1/../x"},
        {"server_url": "ftp://example.com"},
        {"server_url": "http://example.com"},  # plain http to a non-loopback host
        {"server_url": "https://example.com/?a=b"},
        {"server": "nowhere"},
        {"timeout_ms": 0},
    ],
)
def test_bad_settings_fail_fast_with_a_typed_error(kwargs):
    with pytest.raises(ConfigurationError):
        MistralGCP(access_token="t", **kwargs)


@pytest.mark.parametrize("project", ["../etc", "p?x=1", "a/b", "p#frag", "<your-project-id>"])
def test_bad_project_is_refused_before_sending(emulator, both, project):
    client = MistralGCP(project_id=project, access_token="t", server_url=emulator.url)
    with pytest.raises(ConfigurationError, match="invalid project id"):
        both.call(client.chat, "complete", model=CHAT_MODEL, messages=USER)
    assert emulator.requests == []


def test_http_to_other_hosts_needs_explicit_opt_in():
    client = MistralGCP(project_id="p", access_token="t", server_url="http://example.com", allow_http=True)
    assert client.server_url == "http://example.com"


def test_context_manager_closes_only_what_it_created(emulator, both):
    if both.is_async:
        async def go():
            given = httpx2.AsyncClient()
            async with MistralGCP(project_id="p", access_token=emulator.token, server_url=emulator.url,
                                  async_client=given) as client:
                await client.chat.complete_async(model=CHAT_MODEL, messages=USER)
            assert not given.is_closed
            await given.aclose()
            owned = emulator.async_client()
            async with owned:
                await owned.chat.complete_async(model=CHAT_MODEL, messages=USER)
                inner = owned._owned.async_client()
            assert inner.is_closed

        both.run(None, go)
        return
    given = httpx2.Client()
    with MistralGCP(project_id="p", access_token=emulator.token, server_url=emulator.url, client=given) as client:
        client.chat.complete(model=CHAT_MODEL, messages=USER)
    assert not given.is_closed
    given.close()
    with emulator.client() as owned:
        owned.chat.complete(model=CHAT_MODEL, messages=USER)
        inner = owned._owned.sync_client()
    assert inner.is_closed


def test_a_dropped_client_is_collected_at_once_and_closes_its_connections(emulator):
    client = emulator.client()
    client.chat.complete(model=CHAT_MODEL, messages=USER)
    with client.chat.stream(model=CHAT_MODEL, messages=USER) as events:
        list(events)
    inner = client._owned.sync_client()
    ref = weakref.ref(client)
    del client, events
    # No reference cycle: reference counting alone frees it (no gc.collect()).
    assert ref() is None
    assert inner.is_closed
