-- prune_presence.lua: presence no longer needed let go, a chunk of visitors a call (a pass
-- calls it again while a call takes all it may: after the aggregator was down a while). The
-- visitors it lets go are behind the online cursor, so counted on no page.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.prune_presence_keys.)
-- KEYS[1] last_seen  ZSET visitor -> last seen ms
-- KEYS[2] reading    HASH visitor -> the page of its last pageview or heartbeat
-- KEYS[3] bots_seen  ZSET crawler -> last seen ms
-- ARGV[1] online since, ms (crawlers seen before are no longer online)
-- ARGV[2] presence kept since, ms (the longer of the online window and the session timeout)
-- ARGV[3] at most this many visitors in this call
-- Returns {how many visitors it let go, crawlers online}.

-- Presence older than both the window and a session: the visitor and its page go together.
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for i = 1, #gone, 1000 do
  local last = math.min(i + 999, #gone)
  redis.call('HDEL', KEYS[2], unpack(gone, i, last))
  redis.call('ZREM', KEYS[1], unpack(gone, i, last))
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1])
return {#gone, redis.call('ZCARD', KEYS[3])}
