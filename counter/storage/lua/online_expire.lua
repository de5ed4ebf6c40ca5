-- online_expire.lua: the online cursor moved on to the online window's start, a chunk of
-- visitors a call: those it passes (last seen before the window) leave the pages they were
-- counted on. The hit script keeps online_pages as visitors move; this is the only other
-- change to it, so a pass costs what left the window, not all who are in it.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.online_expire_keys.)
-- KEYS[1] last_seen      ZSET visitor -> last seen ms
-- KEYS[2] reading        HASH visitor -> the page of its last pageview or heartbeat
-- KEYS[3] online_pages   ZSET page path -> readers (the visitors seen since the cursor)
-- KEYS[4] online_cursor  STRING ms
-- ARGV[1] the online window's start, ms   ARGV[2] at most this many visitors in this call
-- Returns 1 when the cursor is there, 0 while it is on its way, -1 when there is no cursor
-- or it is ahead (the pass counts every reader afresh: aggregator/rollup.py).

local cursor = redis.call('GET', KEYS[4])
if not cursor then return -1 end
cursor = tonumber(cursor)
local since, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if cursor == since then return 1 end
-- Ahead of the window (a pass run for a later time: `rollup --now`): counted afresh, or hits
-- before it would go uncounted until the clock caught up.
if cursor > since then
  redis.call('DEL', KEYS[4])
  return -1
end

local rows = redis.call('ZRANGEBYSCORE', KEYS[1], cursor, '(' .. since, 'WITHSCORES', 'LIMIT', 0, limit)
local passed, upto = {}, since
if #rows / 2 == limit then
  -- More may follow: stop before the last millisecond read, which may go on past the chunk
  -- (or, when the whole chunk is one millisecond, take all of it).
  local last = tonumber(rows[#rows])
  if last == tonumber(rows[2]) then
    passed, upto = redis.call('ZRANGEBYSCORE', KEYS[1], last, last), last + 1
  else
    for i = 1, #rows, 2 do
      if tonumber(rows[i + 1]) < last then passed[#passed + 1] = rows[i] end
    end
    upto = last
  end
else
  for i = 1, #rows, 2 do passed[#passed + 1] = rows[i] end
end

local leaving = {}
for i = 1, #passed, 1000 do
  local pages = redis.call('HMGET', KEYS[2], unpack(passed, i, math.min(i + 999, #passed)))
  for _, page in ipairs(pages) do
    if page then leaving[page] = (leaving[page] or 0) + 1 end
  end
end
for page, n in pairs(leaving) do
  if tonumber(redis.call('ZINCRBY', KEYS[3], -n, page)) <= 0 then
    redis.call('ZREM', KEYS[3], page)
  end
end
redis.call('SET', KEYS[4], upto, 'KEEPTTL')
if upto >= since then return 1 end
return 0
