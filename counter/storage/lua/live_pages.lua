-- live_pages.lua: the pages a chunk of the visitors online read, to count "who is reading
-- which page now" afresh (a site with no online cursor: a new store, a loss, or the cursor's
-- hour is up; the hit script keeps the counts between). A pass calls it in turn, each call
-- taking up where the one before ended, and counts the pages itself (aggregator/rollup.py):
-- the store only reads, a chunk a call, so no call holds it for long.
--
-- A visitor seen again while a pass reads moves to the end of the order: it may be read
-- twice in that pass (or, moved from the very millisecond where one call ended, make the
-- next call skip one other); the next count afresh mends it.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.live_pages_keys.)
-- KEYS[1] last_seen  ZSET visitor -> last seen ms (the hit script's)
-- KEYS[2] reading    HASH visitor -> the page of its last pageview or heartbeat
-- ARGV[1] from, ms: the online window's start for the first call, then where the last ended
-- ARGV[2] skip: the visitors at exactly ARGV[1] that earlier calls read
-- ARGV[3] at most this many visitors in this call
-- Returns {next from, next skip, visitors read, the page of each that has one...}; fewer
-- visitors read than ARGV[3]: no more.

local from, skip, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', skip, limit)
local read = #rows / 2
if read == 0 then return {from, skip, 0} end

-- The next call starts at this call's last score, past the visitors at that score it read
-- (all of this call's and the earlier ones', when all share the score it started at).
local last, at_last = rows[#rows], 0
for i = #rows, 2, -2 do
  if rows[i] ~= last then break end
  at_last = at_last + 1
end
if tonumber(last) == tonumber(from) then at_last = at_last + skip end

local answer = {last, at_last, read}
local visitors = {}
for i = 1, #rows, 2 do visitors[#visitors + 1] = rows[i] end
for i = 1, #visitors, 1000 do
  local pages = redis.call('HMGET', KEYS[2], unpack(visitors, i, math.min(i + 999, #visitors)))
  for _, page in ipairs(pages) do
    if page then answer[#answer + 1] = page end
  end
end
return answer
