-- write_online_pages.lua: the readers a pass counted (aggregator/rollup.py, live_pages) put in
-- place of the old counts, a chunk of pages a call: the new counts are written apart, and the
-- last call renames them over the old ones at once, so a reader sees one pass or the other.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.write_online_pages_keys.)
-- KEYS[1] counting      ZSET the new counts while they are written (one pass's own key)
-- KEYS[2] online_pages  ZSET page -> visitors online whose last hit was on it
-- KEYS[3] bots_seen     ZSET crawler -> last seen ms
-- ARGV[1] 1 for the last call of the pass   ARGV[2] seconds the counts being written are
-- kept (a pass that stops midway)           ARGV[3..] readers, page, readers, page...
-- Returns the crawlers online from the last call, else 0.

if #ARGV > 2 then redis.call('ZADD', KEYS[1], unpack(ARGV, 3)) end
if ARGV[1] ~= '1' then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
return redis.call('ZCARD', KEYS[3])
