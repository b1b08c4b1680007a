#!/usr/bin/env python3
"""One 2025-era session of the official MCP Python SDK, from anonymous to paid.

Usage: session_sign_in_pay.py <mcp_url> <free_tool> <paid_tool> <json_args_of_paid_tool>

In one session (the SDK's default mode): calls the free tool anonymously; calls the paid tool,
which answers 401, so the SDK signs in (the scripted browser of oauth_tool_call.py plays the
person) and retries on the same session; gets the payment link (a tool result, or the
URL-elicitation error -32042); pays in the sandbox as a person would (the payment page, then
the sandbox checkout's button); retries the paid tool.

Prints one JSON line: {"free_is_error", "payment_url", "paid_is_error", "paid_structured",
"initializes", "session_ids"} where `session_ids` are the distinct Mcp-Session-Id values the
SDK sent and `initializes` the number of initialize requests. Any failure: stderr, exit 1.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from mcp.shared.exceptions import MCPError

from oauth_tool_call import InMemoryTokenStorage, free_loopback_port, play_browser


async def pay_in_sandbox(payment_url: str) -> None:
    """Opens Tollgate's payment page, follows its checkout link, and pays there."""
    async with httpx2.AsyncClient(follow_redirects=False, timeout=30.0) as browser:
        page = await browser.get(payment_url)
        page.raise_for_status()
        found = re.search(r'href="([^"]+)"', page.text)
        if not found:
            raise RuntimeError(f"no checkout link on {payment_url}: {page.text[:500]}")
        checkout = found.group(1).replace("&amp;", "&")
        # The checkout form is bound to the browser that loaded it: its cookie (kept by this
        # client) and the form's hidden token.
        form = await browser.get(checkout)
        form.raise_for_status()
        token = re.search(r'name="csrf" value="([^"]*)"', form.text)
        if not token:
            raise RuntimeError(f"no payment form on {checkout}: {form.text[:500]}")
        paid = await browser.post(checkout, data={"csrf": token.group(1).replace("&amp;", "&")})
        if paid.status_code != 200:
            raise RuntimeError(f"the sandbox refused the payment: {paid.status_code} {paid.text[:500]}")


async def run(mcp_url: str, free_tool: str, paid_tool: str, arguments: dict) -> dict:
    redirect_uri = f"http://127.0.0.1:{free_loopback_port()}/callback"
    results: list[AuthorizationCodeResult] = []

    async def redirect_handler(authorization_url: str) -> None:
        results.append(await play_browser(authorization_url, redirect_uri))

    async def callback_handler() -> AuthorizationCodeResult:
        return results.pop()

    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-session-it",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=InMemoryTokenStorage(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    session_ids: set[str] = set()
    initializes = 0

    async def watch(request: httpx2.Request) -> None:
        nonlocal initializes
        if not str(request.url).startswith(mcp_url):
            return
        if "mcp-session-id" in request.headers:
            session_ids.add(request.headers["mcp-session-id"])
        if request.method == "POST" and b'"method":"initialize"' in request.content.replace(b" ", b""):
            initializes += 1

    timeout = httpx2.Timeout(30.0, read=60.0)
    async with httpx2.AsyncClient(
        auth=provider, timeout=timeout, event_hooks={"request": [watch]}
    ) as http:
        async with streamable_http_client(mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                free = await session.call_tool(free_tool, {})
                payment_url = None
                try:
                    asked = await session.call_tool(paid_tool, arguments)
                    payment_url = (asked.structured_content or {}).get("checkout_url")
                except MCPError as error:
                    if error.code != -32042:
                        raise
                    payment_url = error.data["elicitations"][0]["url"]
                if not payment_url:
                    raise RuntimeError(f"no payment link for {paid_tool}")
                await pay_in_sandbox(payment_url)
                paid = await session.call_tool(paid_tool, arguments)
    return {
        "free_is_error": free.is_error,
        "payment_url": payment_url,
        "paid_is_error": paid.is_error,
        "paid_structured": paid.structured_content,
        "initializes": initializes,
        "session_ids": sorted(session_ids),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(f"usage: {argv[0]} <mcp_url> <free_tool> <paid_tool> <json_args>", file=sys.stderr)
        return 1
    _, mcp_url, free_tool, paid_tool, raw = argv
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        outcome = anyio.run(run, mcp_url, free_tool, paid_tool, json.loads(raw))
    except BaseException as failure:  # noqa: BLE001 - every failure is reported the same way
        if isinstance(failure, KeyboardInterrupt):
            raise
        traceback.print_exception(failure, file=sys.stderr)
        print(f"session_sign_in_pay failed: {failure!r}", file=sys.stderr)
        return 1
    print(json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
