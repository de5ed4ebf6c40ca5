-- adjust_total.lua: make a site's all-time figure N from now on, and keep it in the ledger.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.adjust_total_keys.)
-- KEYS[1] totals   HASH measure -> counted all time
-- KEYS[2] offsets  HASH measure -> adjustment offset
-- KEYS[3] ledger   LIST of JSON entries
-- KEYS[4] visitors_by_day  KEYS[5] hll of today (visitors of the open day count too)
-- ARGV[1] measure  ARGV[2] new total N  ARGV[3] instant (ISO-8601)  ARGV[4] reason
-- ARGV[5] today (YYYY-MM-DD)
-- Returns the all-time figure before the adjustment.

local measure = ARGV[1]
local counted = tonumber(redis.call('HGET', KEYS[1], measure) or '0')
if measure == 'visitors' and redis.call('HEXISTS', KEYS[4], ARGV[5]) == 0 then
  counted = counted + redis.call('PFCOUNT', KEYS[5])
end
local before = counted + tonumber(redis.call('HGET', KEYS[2], measure) or '0')
redis.call('HSET', KEYS[2], measure, tonumber(ARGV[2]) - counted)
redis.call('RPUSH', KEYS[3], cjson.encode({
  at = ARGV[3], measure = measure, before = before, after = tonumber(ARGV[2]), reason = ARGV[4],
}))
return before
