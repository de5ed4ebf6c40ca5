-- wrk script: POST /api/hit as the snippet sends it, a different visitor every request
-- (X-Forwarded-For is believed from loopback, a trusted proxy by default).
local counter = 0
request = function()
  counter = counter + 1
  -- wrk runs LuaJIT (Lua 5.1): arithmetic, not the 5.3 bit operators.
  local ip = string.format("10.%d.%d.%d", math.floor(counter / 65536) % 256,
                           math.floor(counter / 256) % 256, counter % 256)
  local body = '{"site":"bench.gov.vn","url":"https://bench.gov.vn/tin-tuc/' .. (counter % 50) .. '"}'
  return wrk.format("POST", "/api/hit", {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "https://bench.gov.vn",
    ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    ["X-Forwarded-For"] = ip,
  }, body)
end
