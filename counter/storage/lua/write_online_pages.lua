-- write_online_pages.lua: the readers a pass counted afresh (aggregator/rollup.py, when a site
-- has no online cursor) put in place of the old counts, a chunk of pages a call. The new
-- counts are written apart, and the last call renames them over the old ones and sets the
-- cursor at once; from then on the hit script keeps them as visitors move.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.write_online_pages_keys.)
-- KEYS[1] counting       ZSET the new counts while they are written (one pass's own key)
-- KEYS[2] online_pages   ZSET page path -> readers
-- KEYS[3] online_cursor  STRING ms: the counts are of the visitors seen since
-- ARGV[1] 1 for the last call of the pass   ARGV[2] seconds the counts being written are
-- kept (a pass that stops midway)           ARGV[3] the cursor, ms (where the count began)
-- ARGV[4] seconds the cursor lasts: then the counts are made afresh, so that a drift (a
-- visitor who moved while they were counted) does not outlive it
-- ARGV[5..] readers, page, readers, page...

if #ARGV > 4 then redis.call('ZADD', KEYS[1], unpack(ARGV, 5)) end
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
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
return 1
