// The peer `scripts/bench` measures Tollgate against: an MCP server written with the official
// TypeScript SDK (v1, @modelcontextprotocol/sdk) in its documented way, serving one tool,
// `wporg_query_themes`, that asks the same upstream (the fake WordPress.org) on every call, like
// Tollgate's uncached call. Streamable HTTP at /mcp: stateless (a transport per request) and
// 2025 sessions (a transport per session), chosen by whether `initialize` opens a session.
//
// Usage: node ts_sdk_server.mjs <upstream_url>   (prints "listening <url>" once ready)
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const upstream = process.argv[2];
if (!upstream) {
    console.error('usage: ts_sdk_server.mjs <upstream_url>');
    process.exit(1);
}

function buildServer() {
    const server = new McpServer({ name: 'ts-sdk-peer', version: '1.0.0' });
    server.registerTool(
        'wporg_query_themes',
        {
            description: 'Search the WordPress.org theme directory.',
            inputSchema: { search: z.string().optional(), per_page: z.number().int().optional() },
        },
        async ({ search, per_page }) => {
            const query = new URLSearchParams({ action: 'query_themes' });
            if (search) query.set('request[search]', search);
            if (per_page) query.set('request[per_page]', String(per_page));
            const response = await fetch(`${upstream}/themes/info/1.2/?${query}`);
            const answer = await response.json();
            const themes = (answer.themes ?? []).map((t) => ({ slug: t.slug, name: t.name }));
            return {
                content: [{ type: 'text', text: themes.map((t) => `${t.name} (${t.slug})`).join('\n') }],
                structuredContent: { themes, total: answer.info?.results ?? themes.length },
            };
        },
    );
    return server;
}

const sessions = new Map();

async function readBody(req) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

const httpServer = http.createServer(async (req, res) => {
    try {
        if (!req.url.startsWith('/mcp')) {
            res.writeHead(404).end();
            return;
        }
        const body = req.method === 'POST' ? await readBody(req) : undefined;
        const sessionId = req.headers['mcp-session-id'];
        if (sessionId && sessions.has(sessionId)) {
            await sessions.get(sessionId).handleRequest(req, res, body);
            return;
        }
        const wantsSession = req.headers['x-bench-session'] === '1';
        if (wantsSession && body && isInitializeRequest(body)) {
            const transport = new StreamableHTTPServerTransport({
                sessionIdGenerator: () => randomUUID(),
                onsessioninitialized: (id) => sessions.set(id, transport),
            });
            transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
            await buildServer().connect(transport);
            await transport.handleRequest(req, res, body);
            return;
        }
        // Stateless: a server and transport for this one request, as the SDK's examples do.
        const server = buildServer();
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        res.on('close', () => {
            transport.close();
            server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, body);
    } catch (error) {
        if (!res.headersSent) res.writeHead(500).end(String(error));
    }
});
httpServer.listen(0, '127.0.0.1', () => {
    console.log(`listening http://127.0.0.1:${httpServer.address().port}/mcp`);
});
