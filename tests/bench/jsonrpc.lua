-- wrk script for scripts/bench: POSTs one JSON-RPC request per call and counts as an error every
-- answer that is not HTTP 200 with a JSON-RPC result that is not a tool error.
-- Environment: WRK_BODY (the body; "{n}" becomes a number unique to the request, for calls that
-- must miss every cache), WRK_HEADERS ("name: value" pairs separated by "|"), WRK_SESSIONS
-- (session ids separated by ","; each request takes the next one, as many clients would).
-- With WRK_PATH instead of WRK_BODY it GETs that path ("{n}" as above) and counts as an error
-- every answer that is not HTTP 200 with a JSON object: the upstream alone.
local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    path = os.getenv("WRK_PATH")
    if path == "" then path = nil end
    body = path or os.getenv("WRK_BODY") or ""
    unique = body:find("{n}", 1, true) ~= nil
    headers = { ["content-type"] = "application/json",
                ["accept"] = "application/json, text/event-stream" }
    for pair in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^|]+") do
        local name, value = pair:match("^%s*([^:]+):%s*(.*)$")
        if name then headers[name] = value end
    end
    sessions = {}
    for id in string.gmatch(os.getenv("WRK_SESSIONS") or "", "[^,]+") do
        table.insert(sessions, id)
    end
    counter = 0
    errors = 0
    sample = nil
end

function request()
    counter = counter + 1
    local b = body
    if unique then
        b = body:gsub("{n}", tostring(tid * 1000000000 + counter))
    end
    if path then
        return wrk.format("GET", b)
    end
    if #sessions > 0 then
        headers["mcp-session-id"] = sessions[(counter % #sessions) + 1]
    end
    return wrk.format("POST", nil, headers, b)
end

function response(status, hdrs, b)
    local bad
    if path then
        bad = status ~= 200 or b:sub(1, 1) ~= "{"
    else
        bad = status ~= 200 or not b:find('"result"', 1, true) or b:find('"isError":true', 1, true)
    end
    if bad then
        errors = errors + 1
        if sample == nil then sample = status .. " " .. b:sub(1, 300) end
    end
end

function done(summary, latency, requests)
    local bad = 0
    local example = ""
    for _, thread in ipairs(threads) do
        bad = bad + thread:get("errors")
        local s = thread:get("sample")
        if s ~= nil and example == "" then example = s end
    end
    io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        bad + summary.errors.status + summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.timeout))
    if example ~= "" then io.write("SAMPLE " .. example:gsub("\n", " ") .. "\n") end
end
