-- 50-event batches to /v1/batch, every event with a unique messageId; one visitor per batch, as
-- the browser tracker sends them. Used by `cargo xtask bench collector`.
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic ZGVtby13cml0ZS1rZXk6" -- demo-write-key:

function setup(thread)
  thread:set("prefix", tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000)))
end

request = function()
  counter = counter + 1
  local events = {}
  for i = 1, 50 do
    events[i] = '{"type":"track","event":"Bench","anonymousId":"bench-' .. prefix .. '-' .. counter ..
      '","messageId":"' .. prefix .. '-' .. counter .. '-' .. i .. '","properties":{"i":' .. i .. '}}'
  end
  return wrk.format(nil, "/v1/batch", nil, '{"batch":[' .. table.concat(events, ",") .. ']}')
end
