-- carry_pages.lua: one batch of page views carried in from an old counter, or set by hand.
--
-- "carry": a page's views rise by what the source counted beyond what it carried in before
-- (KEYS[2] remembers that per source and page), so running an import again changes nothing and
-- views counted here since stay. "set": the page shows N from now on, and the ledger says so.
-- The hot path (record_hit.lua) and /api/stats?url= read the same hash, unchanged. Each page
-- changed takes its new all-time figure into the all-time most viewed (KEYS[4]), so
-- /api/stats/top?period=total ranks a carried article by its carried views. Its score is set
-- to the page's figure (ZADD), not raised by the delta (ZINCRBY): the set holds each page's
-- all-time views (record_hit.lua's ZADD GT), and a page the aggregator trimmed away would
-- come back with the delta only. A page no run changes is not touched, so a second run of
-- the same import changes nothing here either; the aggregator trims the set as ever.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.carry_pages_keys.)
-- KEYS[1] page_views    HASH page path -> all-time views
-- KEYS[2] page_imports  HASH "<source>|<path>" -> views that source carried in
-- KEYS[3] page_ledger   LIST of JSON entries, one per page set by hand
-- KEYS[4] top_total     ZSET page path -> all-time views (the all-time most viewed)
-- ARGV[1] "carry" or "set"   ARGV[2] source   ARGV[3] instant (ISO-8601)   ARGV[4] reason
-- ARGV[5..] pairs: page path, views
-- Returns {pages changed, views added (negative when a set lowered them)}.

local mode, source, at, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local changed, added = 0, 0
for i = 5, #ARGV - 1, 2 do
  local path, views = ARGV[i], tonumber(ARGV[i + 1])
  local current = tonumber(redis.call('HGET', KEYS[1], path) or '0')
  if mode == 'set' then
    if current ~= views or redis.call('HEXISTS', KEYS[1], path) == 0 then
      redis.call('HSET', KEYS[1], path, views)
      redis.call('ZADD', KEYS[4], views, path)
      redis.call('RPUSH', KEYS[3], cjson.encode({
        at = at, page = path, before = current, after = views, reason = reason, source = source,
      }))
      changed, added = changed + 1, added + views - current
    end
  else
    local field = source .. '|' .. path
    local carried = tonumber(redis.call('HGET', KEYS[2], field) or '0')
    local delta = views - carried
    if delta ~= 0 then
      -- A source that now reports fewer views takes back only what it had brought.
      if current + delta < 0 then delta = -current end
      local now = redis.call('HINCRBY', KEYS[1], path, delta)
      redis.call('ZADD', KEYS[4], now, path)
      redis.call('HSET', KEYS[2], field, views)
      changed, added = changed + 1, added + delta
    end
  end
end
return {changed, added}
