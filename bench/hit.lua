-- wrk script: POST /api/hit as the snippet sends it, a different visitor every request
-- (X-Forwarded-For is believed from loopback, a trusted proxy by default).
local counter = 0
request = function()
  counter = counter + 1
  local ip = string.format("10.%d.%d.%d", (counter >> 16) & 255, (counter >> 8) & 255, counter & 255)
  local body = '{"site":"bench.gov.vn","url":"https://bench.gov.vn/tin-tuc/' .. (counter % 50) .. '"}'
  return wrk.format("POST", "/api/hit", {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = "https://bench.gov.vn",
    ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    ["X-Forwarded-For"] = ip,
  }, body)
end
