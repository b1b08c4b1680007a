#!/usr/bin/env python3
"""Signs in to a Tollgate MCP endpoint with the official MCP Python SDK, then calls one tool.

Usage: oauth_tool_call.py <mcp_url> <tool_name> <json_args>

The SDK discovers the authorization server, registers itself, and sends the person to the
authorization URL. Here a scripted browser plays that person: it keeps cookies, follows each
redirect by hand, approves Tollgate's consent page, passes through GitHub (a fake that answers
at once), and stops when the browser is sent to the client's own redirect URI. The code, state
and issuer found there go back to the SDK, which redeems them and retries with its token.

On success prints one JSON line: {"tools": [...], "is_error": bool, "structured": ..., "text": ...}
and exits 0. Any failure: a message on stderr, exit 1.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import traceback
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

try:
    import anyio
    import httpx2
    from mcp import ClientSession
    from mcp.client.auth import OAuthClientProvider
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import (
        AuthorizationCodeResult,
        OAuthClientInformationFull,
        OAuthClientMetadata,
        OAuthToken,
    )
    from mcp.types import PaginatedRequestParams, TextContent
except ImportError as missing:  # pragma: no cover - reported to the person running the tests
    print(
        f"the MCP Python SDK is not installed for {sys.executable} ({missing}); "
        "run scripts/test, or tests/python/setup-venv.sh and set TOLLGATE_PYTHON to the "
        "python it prints",
        file=sys.stderr,
    )
    sys.exit(1)

CLIENT_NAME = "python-sdk-it"
MAX_HOPS = 20


class SignInError(Exception):
    """The scripted browser could not get from the authorization URL to the redirect URI."""


class InMemoryTokenStorage:
    """The SDK's TokenStorage protocol, kept in memory for one run."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Form:
    """One HTML form: its method, action, and hidden inputs in document order."""

    def __init__(self, method: str, action: str) -> None:
        self.method = method
        self.action = action
        self.hidden: list[tuple[str, str]] = []


class FormParser(HTMLParser):
    """Collects every <form> of a page with its hidden inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        if tag == "form":
            self._current = Form(
                attributes.get("method", "get").strip().lower(),
                attributes.get("action", ""),
            )
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            name = attributes.get("name")
            if attributes.get("type", "").strip().lower() == "hidden" and name:
                self._current.hidden.append((name, attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def consent_form(html: str) -> Form | None:
    """The consent page's form: the first POST form that carries hidden inputs."""
    parser = FormParser()
    parser.feed(html)
    parser.close()
    for form in parser.forms:
        if form.method == "post" and form.hidden:
            return form
    return None


def authorization_result(location: str) -> AuthorizationCodeResult:
    """The code, state and issuer of the redirect back to the client."""
    query = parse_qs(urlparse(location).query)

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    code = first("code")
    if not code:
        raise SignInError(
            f"the authorization server sent the browser back without a code: {location}"
        )
    return AuthorizationCodeResult(code=code, state=first("state"), iss=first("iss"))


async def play_browser(authorization_url: str, redirect_uri: str) -> AuthorizationCodeResult:
    """Goes from the authorization URL to the client's redirect URI as a person would."""
    async with httpx2.AsyncClient(follow_redirects=False, timeout=30.0) as browser:
        response = await browser.get(authorization_url)
        for _ in range(MAX_HOPS):
            here = str(response.url)
            if response.is_redirect and "location" in response.headers:
                location = urljoin(here, response.headers["location"])
                if location.startswith(redirect_uri):
                    return authorization_result(location)
                response = await browser.get(location)
                continue
            form = consent_form(response.text) if response.status_code == 200 else None
            if form is None:
                raise SignInError(
                    f"the browser is stuck at {here} (HTTP {response.status_code}): "
                    f"{response.text[:1000]}"
                )
            fields = [*form.hidden, ("decision", "approve")]
            response = await browser.post(
                urljoin(here, form.action),
                content=urlencode(fields),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        raise SignInError(f"no way back to {redirect_uri} after {MAX_HOPS} pages")


def free_loopback_port() -> int:
    """A port nothing listens on now: the redirect URI is never actually served."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def run(mcp_url: str, tool: str, arguments: dict) -> dict:
    redirect_uri = f"http://127.0.0.1:{free_loopback_port()}/callback"
    results: list[AuthorizationCodeResult] = []

    async def redirect_handler(authorization_url: str) -> None:
        results.append(await play_browser(authorization_url, redirect_uri))

    async def callback_handler() -> AuthorizationCodeResult:
        if not results:
            raise SignInError("the browser brought back no authorization response")
        return results.pop()

    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name=CLIENT_NAME,
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=InMemoryTokenStorage(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    timeout = httpx2.Timeout(30.0, read=60.0)
    async with httpx2.AsyncClient(auth=provider, timeout=timeout) as http:
        async with streamable_http_client(mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names: list[str] = []
                cursor: str | None = None
                while True:
                    params = PaginatedRequestParams(cursor=cursor) if cursor else None
                    listing = await session.list_tools(params=params)
                    names.extend(t.name for t in listing.tools)
                    cursor = listing.next_cursor
                    if not cursor:
                        break
                result = await session.call_tool(tool, arguments)
    text = next((c.text for c in result.content if isinstance(c, TextContent)), None)
    return {
        "tools": names,
        "is_error": result.is_error,
        "structured": result.structured_content,
        "text": text,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(f"usage: {argv[0]} <mcp_url> <tool_name> <json_args>", file=sys.stderr)
        return 1
    _, mcp_url, tool, raw_arguments = argv
    try:
        arguments = json.loads(raw_arguments)
        if not isinstance(arguments, dict):
            raise ValueError("the tool arguments must be a JSON object")
    except ValueError as bad:
        print(f"bad <json_args>: {bad}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        outcome = anyio.run(run, mcp_url, tool, arguments)
    except BaseException as failure:  # noqa: BLE001 - every failure is reported the same way
        if isinstance(failure, KeyboardInterrupt):
            raise
        traceback.print_exception(failure, file=sys.stderr)
        print(f"oauth_tool_call failed: {failure!r}", file=sys.stderr)
        return 1
    print(json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
