// Runs mcp-remote the way a desktop client does (a child process speaking MCP over stdio,
// bridging to a remote Streamable HTTP endpoint) and, as that desktop client, lists the tools
// and calls one through it with the official TypeScript SDK's stdio client.
//
// Usage: node mcp_remote_call.mjs <node> <mcp-remote proxy.js> <mcp_url> <tool> <json_args>
// Prints one JSON line {"tools": [...], "is_error": bool, "structured": ...}; any failure: a
// message on stderr, exit 1.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [, , node, proxy, mcpUrl, tool, rawArgs] = process.argv;
if (!node || !proxy || !mcpUrl || !tool || !rawArgs) {
    console.error('usage: mcp_remote_call.mjs <node> <proxy.js> <mcp_url> <tool> <json_args>');
    process.exit(1);
}
try {
    const transport = new StdioClientTransport({
        command: node,
        args: [proxy, mcpUrl, '--transport', 'http-only'],
        env: { ...process.env },
        stderr: 'inherit',
    });
    const client = new Client({ name: 'mcp-remote-it', version: '1.0.0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    const result = await client.callTool({ name: tool, arguments: JSON.parse(rawArgs) });
    console.log(
        JSON.stringify({
            tools: tools.map((t) => t.name),
            is_error: result.isError ?? false,
            structured: result.structuredContent ?? null,
        }),
    );
    await client.close();
    process.exit(0);
} catch (error) {
    console.error(error?.stack ?? String(error));
    process.exit(1);
}
