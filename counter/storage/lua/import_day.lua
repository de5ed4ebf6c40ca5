-- import_day.lua: set one day's history row from an imported file; repeating it changes nothing.
--
-- The all-time totals move by the difference between the new row and the old one, so the
-- history and the totals keep adding up (the aggregator's reconciliation check).
--
-- (KEYS in this order: counter/keys.py, SiteKeys.import_day_keys.)
-- KEYS[1] pageviews_by_day  KEYS[2] visits_by_day  KEYS[3] visitors_by_day  KEYS[4] totals
-- ARGV[1] date  ARGV[2] pageviews  ARGV[3] visits  ARGV[4] visitors
-- Returns 1 when the row changed, 0 when it was already so.

local measures = {'pageviews', 'visits', 'visitors'}
local changed = 0
for i, measure in ipairs(measures) do
  local old = tonumber(redis.call('HGET', KEYS[i], ARGV[1]) or '0')
  local new = tonumber(ARGV[i + 1])
  if old ~= new or redis.call('HEXISTS', KEYS[i], ARGV[1]) == 0 then
    redis.call('HSET', KEYS[i], ARGV[1], new)
    redis.call('HINCRBY', KEYS[4], measure, new - old)
    changed = 1
  end
end
return changed
