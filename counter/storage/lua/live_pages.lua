-- live_pages.lua: who is reading which page now, once per aggregation pass, and the presence
-- that is no longer needed let go.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.live_pages_keys.)
-- KEYS[1] last_seen     ZSET visitor -> last seen ms (the hit script's)
-- KEYS[2] reading       HASH visitor -> the page of its last pageview or heartbeat
-- KEYS[3] online_pages  ZSET page -> visitors online whose last hit was on it (rewritten here)
-- KEYS[4] bots_seen     ZSET crawler -> last seen ms (excluded hits of reason 'bot')
-- ARGV[1] online since, ms (the site's online window)
-- ARGV[2] presence kept since, ms (the longer of the online window and the session timeout)
-- Returns {visitors online with a page, pages read, crawlers online}.

local since, kept_since = ARGV[1], ARGV[2]

-- Presence older than both the window and a session: the visitor and its page go together.
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. kept_since)
for i = 1, #gone, 1000 do
  redis.call('HDEL', KEYS[2], unpack(gone, i, math.min(i + 999, #gone)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. kept_since)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. since)

local online = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf')
local readers, with_page = {}, 0
for i = 1, #online, 1000 do
  local pages = redis.call('HMGET', KEYS[2], unpack(online, i, math.min(i + 999, #online)))
  for _, page in ipairs(pages) do
    if page then
      readers[page] = (readers[page] or 0) + 1
      with_page = with_page + 1
    end
  end
end
redis.call('DEL', KEYS[3])
local pairs_, count = {}, 0
for page, n in pairs(readers) do
  pairs_[#pairs_ + 1] = n
  pairs_[#pairs_ + 1] = page
  count = count + 1
  if #pairs_ >= 2000 then
    redis.call('ZADD', KEYS[3], unpack(pairs_))
    pairs_ = {}
  end
end
if #pairs_ > 0 then redis.call('ZADD', KEYS[3], unpack(pairs_)) end
return {with_page, count, redis.call('ZCARD', KEYS[4])}
