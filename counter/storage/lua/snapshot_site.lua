-- snapshot_site.lua: everything durable about one site, read atomically, and the site's epoch
-- marker moved to the snapshot generation in the same step (so a store that loses the data
-- also loses the marker, and the aggregator notices).
--
-- (KEYS in this order: counter/keys.py, SiteKeys.snapshot_keys.)
-- KEYS[1] epoch marker (HASH)   KEYS[2] config (STRING)   KEYS[3] totals   KEYS[4] offsets
-- KEYS[5] adjustments (LIST)    KEYS[6] pageviews_by_day  KEYS[7] visits_by_day
-- KEYS[8] visitors_by_day       KEYS[9] page_views
-- KEYS[10] access (HASH: site keys and read tokens, hashed)   KEYS[11] page_imports (HASH)
-- KEYS[12] imported_days (HASH)  KEYS[13] page_adjustments (LIST)
-- KEYS[14..] visitors HLLs (SiteKeys.snapshot_hll_keys)
-- ARGV[1] generation   ARGV[2] store epoch id
-- ARGV[3] '1' when an earlier snapshot holds the site: its marker must still be here.
-- Returns false, and moves nothing, when the site's config or that marker is gone: the site
-- was removed, or the store lost its data, while the pass ran (an emptied site must never
-- replace its snapshot: the next pass restores it). Else {config, totals, offsets, adjustments, pageviews, visits, visitors, page_views,
--          {each HLL's bytes, or false}, access, page_imports, imported_days,
--          page_adjustments} (hashes as flat field/value arrays).

if redis.call('EXISTS', KEYS[2]) == 0
  or (ARGV[3] == '1' and redis.call('HEXISTS', KEYS[1], 'generation') == 0) then
  return false
end
redis.call('HSET', KEYS[1], 'generation', ARGV[1], 'id', ARGV[2])
local hlls = {}
for i = 14, #KEYS do hlls[#hlls + 1] = redis.call('GET', KEYS[i]) end
return {
  redis.call('GET', KEYS[2]),
  redis.call('HGETALL', KEYS[3]),
  redis.call('HGETALL', KEYS[4]),
  redis.call('LRANGE', KEYS[5], 0, -1),
  redis.call('HGETALL', KEYS[6]),
  redis.call('HGETALL', KEYS[7]),
  redis.call('HGETALL', KEYS[8]),
  redis.call('HGETALL', KEYS[9]),
  hlls,
  redis.call('HGETALL', KEYS[10]),
  redis.call('HGETALL', KEYS[11]),
  redis.call('HGETALL', KEYS[12]),
  redis.call('LRANGE', KEYS[13], 0, -1),
}
