-- live_pages.lua: "who is reading which page now" counted afresh, a chunk of visitors a call,
-- for a site with no online cursor (a new store, a loss, the cursor's hour up, or a cursor
-- ahead of the window). The hit script keeps the counts between.
--
-- A pass calls it until it answers 1. Each call counts the visitors seen from where the last
-- one ended, a whole millisecond at a time, into online_next; meanwhile the hit script moves
-- a visitor already counted (seen from since to before upto) to its new page there, so the
-- count stays exact while visitors move. The call that reaches the end puts online_next in
-- place of online_pages and sets the cursor at once.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.live_pages_keys.)
-- KEYS[1] last_seen       ZSET visitor -> last seen ms
-- KEYS[2] reading         HASH visitor -> the page of its last pageview or heartbeat
-- KEYS[3] online_pages    ZSET page path -> readers
-- KEYS[4] online_cursor   STRING ms
-- KEYS[5] online_next     ZSET page path -> readers, while counted
-- KEYS[6] online_next_at  HASH since, upto: the visitors counted so far
-- ARGV[1] since, ms: the online window's start (for a count that starts with this call)
-- ARGV[2] at most this many visitors in this call (more only when one millisecond holds more)
-- ARGV[3] seconds a count under way is kept (a pass that stops midway; the next starts anew)
-- ARGV[4] seconds the cursor lasts: then the counts are made afresh again
-- Returns 1 when the counts are in place (by this call, or by another pass's), else 0.

if redis.call('EXISTS', KEYS[4]) == 1 then return 1 end
local at = redis.call('HMGET', KEYS[6], 'since', 'upto')
local since, upto
if at[1] then
  since, upto = tonumber(at[1]), tonumber(at[2])
else
  since = tonumber(ARGV[1])
  upto = since
  redis.call('DEL', KEYS[5])
end

local limit = tonumber(ARGV[2])
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], upto, '+inf', 'WITHSCORES', 'LIMIT', 0, limit)
local counted, done = {}, #rows / 2 < limit
if done then
  for i = 1, #rows, 2 do counted[#counted + 1] = rows[i] end
else
  -- Stop before the last millisecond read, which may go on past the chunk (or, when the whole
  -- chunk is one millisecond, take all of it).
  local last = tonumber(rows[#rows])
  if last == tonumber(rows[2]) then
    counted, upto = redis.call('ZRANGEBYSCORE', KEYS[1], last, last), last + 1
  else
    for i = 1, #rows, 2 do
      if tonumber(rows[i + 1]) < last then counted[#counted + 1] = rows[i] end
    end
    upto = last
  end
end

local readers = {}
for i = 1, #counted, 1000 do
  local pages = redis.call('HMGET', KEYS[2], unpack(counted, i, math.min(i + 999, #counted)))
  for _, page in ipairs(pages) do
    if page then readers[page] = (readers[page] or 0) + 1 end
  end
end
for page, n in pairs(readers) do redis.call('ZINCRBY', KEYS[5], n, page) end

if not done then
  redis.call('HSET', KEYS[6], 'since', since, 'upto', upto)
  redis.call('EXPIRE', KEYS[6], ARGV[3])
  redis.call('EXPIRE', KEYS[5], ARGV[3])
  return 0
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('RENAME', KEYS[5], KEYS[3])
  redis.call('PERSIST', KEYS[3])
else
  redis.call('DEL', KEYS[3])
end
redis.call('DEL', KEYS[6])
redis.call('SET', KEYS[4], since, 'EX', ARGV[4])
return 1
