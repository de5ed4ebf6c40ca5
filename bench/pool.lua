-- wrk script: send the requests of a file that bench/mix.py wrote, in turn, cycling.
-- args: the file's path (wrk ... -s bench/pool.lua URL -- FILE).
-- The file: each request as a decimal length line, then that many bytes (a whole HTTP/1.1
-- request, Host and Content-Length included); wrk sends it as it is.
local requests, count, at = {}, 0, 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  while true do
    local line = file:read("*l")
    if not line then break end
    count = count + 1
    requests[count] = file:read(tonumber(line))
  end
  file:close()
end

function request()
  at = at % count + 1
  return requests[at]
end

