-- prune_presence.lua: presence no longer needed let go, a chunk of visitors a call (a pass
-- calls it again while a call takes all it may: after the aggregator was down a while).
--
-- (KEYS in this order: counter/keys.py, SiteKeys.prune_presence_keys.)
-- KEYS[1] last_seen  ZSET visitor -> last seen ms
-- KEYS[2] reading    HASH visitor -> the page of its last pageview or heartbeat
-- KEYS[3] bots_seen  ZSET crawler -> last seen ms
-- KEYS[4] online_cursor  STRING ms: no visitor at or past it is let go (it is counted)
-- ARGV[1] online since, ms (crawlers seen before are no longer online)
-- ARGV[2] presence kept since, ms (the longer of the online window and the session timeout)
-- ARGV[3] at most this many visitors in this call
-- Returns {how many visitors it let go, crawlers online}.

-- Presence older than both the window and a session: the visitor and its page go together.
-- Only behind the cursor (another pass may have set it earlier than this one's window), and
-- none while there is no cursor (a count afresh may be counting them).
local cursor = redis.call('GET', KEYS[4])
local kept_since = cursor and math.min(tonumber(ARGV[2]), tonumber(cursor))
local gone = {}
if kept_since then
  gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. kept_since, 'LIMIT', 0, ARGV[3])
end
for i = 1, #gone, 1000 do
  local last = math.min(i + 999, #gone)
  redis.call('HDEL', KEYS[2], unpack(gone, i, last))
  redis.call('ZREM', KEYS[1], unpack(gone, i, last))
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1])
return {#gone, redis.call('ZCARD', KEYS[3])}
