-- One Segment `track` event per request to /v1/track, each with a unique messageId, as a
-- server-side client would send them. Used by `cargo xtask bench collector`.
local counter = 0
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic ZGVtby13cml0ZS1rZXk6" -- demo-write-key:

function setup(thread)
  thread:set("prefix", run .. "-" .. tostring(math.random(1, 1000000000)))
end

request = function()
  counter = counter + 1
  local body = '{"type":"track","event":"Bench","anonymousId":"bench-' .. prefix .. '-' .. (counter % 1000) ..
    '","messageId":"' .. prefix .. '-' .. counter .. '","properties":{"n":' .. counter .. '}}'
  return wrk.format(nil, "/v1/track", nil, body)
end
