-- close_day.lua: close one finished local day of one site, exactly once.
--
-- Pageviews and visits already sit in the day's history row and the all-time totals (each hit
-- adds them atomically). Closing freezes the day's unique-visitor estimate into the history
-- and the total; HSETNX makes a second close (another aggregator, a retry) change nothing.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.close_day_keys.)
-- KEYS[1] open_days       SET of dates not closed yet
-- KEYS[2] visitors_by_day HASH date -> visitors
-- KEYS[3] totals          HASH measure -> all-time count
-- KEYS[4] visitors_hll    HLL of that day's visitors
-- ARGV[1] local date (YYYY-MM-DD)
-- ARGV[2] seconds the raw HLL is kept after closing (relative TTL)
-- Returns {1 if this call closed the day else 0, the day's visitors}

local visitors = redis.call('PFCOUNT', KEYS[4])
local closed = redis.call('HSETNX', KEYS[2], ARGV[1], visitors)
if closed == 1 then
  redis.call('HINCRBY', KEYS[3], 'visitors', visitors)
else
  visitors = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[2])
return {closed, visitors}
