// Drives Tollgate with the official MCP TypeScript SDK through the whole paid flow, as a user's
// client would: sign in with OAuth (a scripted browser approves the consent page and passes
// through GitHub), call a free tool, spend the paid tool's free calls, get the payment link,
// pay in the sandbox, and retry.
//
// Usage: node ts_sdk_paid_flow.mjs <v1|v2> <mcp_url> <paid_tool> <json_args> <free_tool>
//   v1: @modelcontextprotocol/sdk (2025-11-25, with a session; the tenant asks for sign-in at
//       connect). v2: @modelcontextprotocol/client pinned to 2026-07-28 (stateless; connects
//       anonymously and signs in when the paid tool answers 401).
// Prints one JSON line describing what happened; any failure: a message on stderr, exit 1.

const [, , flavour, mcpUrl, paidTool, rawArgs, freeTool] = process.argv;
if (!['v1', 'v2'].includes(flavour) || !mcpUrl || !paidTool || !rawArgs || !freeTool) {
    console.error('usage: ts_sdk_paid_flow.mjs <v1|v2> <mcp_url> <paid_tool> <json_args> <free_tool>');
    process.exit(1);
}
const paidArgs = JSON.parse(rawArgs);

const sdk =
    flavour === 'v1'
        ? {
              ...(await import('@modelcontextprotocol/sdk/client/index.js')),
              ...(await import('@modelcontextprotocol/sdk/client/streamableHttp.js')),
              ...(await import('@modelcontextprotocol/sdk/client/auth.js')),
          }
        : await import('@modelcontextprotocol/client');
const { Client, StreamableHTTPClientTransport, UnauthorizedError } = sdk;

// The redirect URI is never served: the scripted browser stops when it is sent there.
const redirectUri = 'http://127.0.0.1:9/callback';

/** A browser with a cookie jar that follows redirects by hand and approves consent forms. */
async function playBrowser(authorizationUrl) {
    const jar = new Map();
    const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const keep = (response) => {
        for (const line of response.headers.getSetCookie()) {
            const [pair] = line.split(';');
            const at = pair.indexOf('=');
            if (at > 0) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
        }
    };
    let url = String(authorizationUrl);
    let init = { method: 'GET' };
    for (let hop = 0; hop < 20; hop++) {
        const response = await fetch(url, {
            ...init,
            redirect: 'manual',
            headers: { ...(init.headers ?? {}), cookie: cookieHeader() },
        });
        keep(response);
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location) {
            const next = new URL(location, url).toString();
            if (next.startsWith(redirectUri)) return new URL(next).searchParams;
            url = next;
            init = { method: 'GET' };
            continue;
        }
        const html = await response.text();
        const form = consentForm(html);
        if (response.status !== 200 || !form) {
            throw new Error(`the browser is stuck at ${url} (HTTP ${response.status}): ${html.slice(0, 500)}`);
        }
        const fields = new URLSearchParams([...form.hidden, ['decision', 'approve']]);
        url = new URL(form.action, url).toString();
        init = {
            method: 'POST',
            body: fields.toString(),
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
        };
    }
    throw new Error('no way back to the redirect URI after 20 pages');
}

const decode = (s) =>
    s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
const attr = (tag, name) => {
    const m = tag.match(new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i'));
    return m ? decode(m[2] ?? m[3] ?? '') : undefined;
};

/** The first POST form with hidden inputs (Tollgate's consent form). */
function consentForm(html) {
    for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
        const [, open, inner] = match;
        if ((attr(open, 'method') ?? 'get').toLowerCase() !== 'post') continue;
        const hidden = [];
        for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
            if ((attr(input[0], 'type') ?? '').toLowerCase() === 'hidden' && attr(input[0], 'name')) {
                hidden.push([attr(input[0], 'name'), attr(input[0], 'value') ?? '']);
            }
        }
        if (hidden.length) return { action: attr(open, 'action') ?? '', hidden };
    }
    return undefined;
}

/** The SDK's OAuthClientProvider, kept in memory; the browser runs when the SDK redirects. */
class Provider {
    constructor() {
        this.saved = {};
        this.callback = undefined;
        this.signIns = 0;
    }
    get redirectUrl() {
        return redirectUri;
    }
    get clientMetadata() {
        return {
            client_name: `ts-sdk-${flavour}-it`,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
        };
    }
    clientInformation() {
        return this.saved.client;
    }
    saveClientInformation(info) {
        this.saved.client = info;
    }
    tokens() {
        return this.saved.tokens;
    }
    saveTokens(tokens) {
        this.saved.tokens = tokens;
    }
    saveCodeVerifier(verifier) {
        this.saved.verifier = verifier;
    }
    codeVerifier() {
        return this.saved.verifier;
    }
    async redirectToAuthorization(url) {
        this.signIns += 1;
        this.callback = await playBrowser(url);
    }
}

const provider = new Provider();
const transportOptions = { authProvider: provider };
const clientOptions =
    flavour === 'v2' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {};
const report = { flavour, steps: [] };

/** Hands the browser's answer to the SDK, which redeems the code for a token. */
async function finishSignIn(transport) {
    const params = provider.callback;
    if (!params?.get('code')) throw new Error('the browser brought back no code');
    provider.callback = undefined;
    if (flavour === 'v2') await transport.finishAuth(params);
    else await transport.finishAuth(params.get('code'));
}

/** Connects; when the server answers 401 the SDK sends the user to sign in, then reconnects. */
async function connect() {
    let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), transportOptions);
    let client = new Client({ name: `ts-sdk-${flavour}-it`, version: '1.0.0' }, clientOptions);
    try {
        await client.connect(transport);
        report.steps.push('connected');
    } catch (error) {
        if (!(error instanceof UnauthorizedError)) throw error;
        report.steps.push('sign-in at connect');
        await finishSignIn(transport);
        transport = new StreamableHTTPClientTransport(new URL(mcpUrl), transportOptions);
        client = new Client({ name: `ts-sdk-${flavour}-it`, version: '1.0.0' }, clientOptions);
        await client.connect(transport);
        report.steps.push('connected');
    }
    return { client, transport };
}

/** A tools/call that signs in once when it is refused for want of a token. */
async function callTool(client, transport, name, args) {
    try {
        return await client.callTool({ name, arguments: args });
    } catch (error) {
        if (!(error instanceof UnauthorizedError) && !/401|nauthori/.test(String(error))) throw error;
        if (!provider.callback) throw error;
        report.steps.push(`sign-in at ${name}`);
        await finishSignIn(transport);
        return await client.callTool({ name, arguments: args });
    }
}

try {
    const { client, transport } = await connect();
    report.session_id = transport.sessionId ?? null;
    report.protocol_version = transport.protocolVersion ?? null;
    const listed = await client.listTools();
    report.tools = listed.tools.map((t) => t.name);

    const free = await client.callTool({ name: freeTool, arguments: {} });
    report.free_is_error = free.isError ?? false;
    report.steps.push(`free ${freeTool}`);

    // The paid tool: the first calls are free (the plan's monthly allowance), then the answer
    // carries the payment link.
    const paidResults = [];
    let checkoutUrl;
    for (let i = 0; i < 10 && !checkoutUrl; i++) {
        const result = await callTool(client, transport, paidTool, paidArgs);
        const status = result.structuredContent?.status;
        paidResults.push(result.isError ? status ?? 'error' : 'ok');
        if (status === 'payment_required') checkoutUrl = result.structuredContent.checkout_url;
    }
    report.paid_before_payment = paidResults;
    if (!checkoutUrl) throw new Error(`no payment link after ${paidResults.length} calls: ${paidResults}`);
    report.checkout_url = checkoutUrl;

    // The user opens the link and pays on the sandbox's test checkout.
    const page = await (await fetch(checkoutUrl)).text();
    const checkout = page.match(/href="([^"]*sandbox\/checkout[^"]*)"/)?.[1];
    if (!checkout) throw new Error(`no sandbox checkout link on the payment page: ${page.slice(0, 500)}`);
    // The checkout page sets a cookie and puts the matching token in its form; the browser
    // sends both back when the button is pressed.
    const form = await fetch(decode(checkout));
    const cookie = (form.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
    const csrf = (await form.text()).match(/name="csrf" value="([^"]*)"/)?.[1];
    if (!csrf) throw new Error('no payment form on the sandbox checkout');
    const paid = await fetch(decode(checkout), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ csrf: decode(csrf) }).toString(),
    });
    report.sandbox_status = paid.status;

    const retry = await client.callTool({ name: paidTool, arguments: paidArgs });
    report.retry_is_error = retry.isError ?? false;
    report.retry_structured = retry.structuredContent ?? null;
    report.session_id_after = transport.sessionId ?? null;
    report.sign_ins = provider.signIns;
    await client.close();
    console.log(JSON.stringify(report));
    process.exit(0);
} catch (error) {
    console.error(error?.stack ?? String(error));
    console.error(`steps so far: ${JSON.stringify(report)}`);
    process.exit(1);
}
