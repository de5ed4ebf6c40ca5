-- read_site.lua: every raw figure a site's summary needs, read atomically.
-- (No `no-writes` flag: PFCOUNT counts as a write, it caches the estimate in the HLL.)
--
-- (KEYS in this order: counter/keys.py, SiteKeys.read_site_keys.)
-- KEYS[1] pageviews_by_day  KEYS[2] visits_by_day  KEYS[3] visitors_by_day
-- KEYS[4] totals            KEYS[5] offsets        KEYS[6] last_seen
-- KEYS[7] excluded today
-- KEYS[8..] the visitors HLL of each period (counter/periods.py PERIODS: today, yesterday,
--           week, last week, month, last month)
-- ARGV[1] online since, ms   ARGV[2] today   ARGV[3] yesterday   ARGV[4..] the days wanted
-- Returns {pageviews[], visits[], visitors[] (per wanted day), totals (flat), offsets (flat),
--          online, excluded (flat), {PFCOUNT of each HLL key, in KEYS order},
--          today closed 0|1, yesterday closed 0|1, {sum pageviews, sum visits, sum visitors}}

local days = {}
for i = 4, #ARGV do days[#days + 1] = ARGV[i] end

local function sum(key)
  local total = 0
  for _, v in ipairs(redis.call('HVALS', key)) do total = total + tonumber(v) end
  return total
end

local hll = {}
for i = 8, #KEYS do hll[#hll + 1] = redis.call('PFCOUNT', KEYS[i]) end

return {
  redis.call('HMGET', KEYS[1], unpack(days)),
  redis.call('HMGET', KEYS[2], unpack(days)),
  redis.call('HMGET', KEYS[3], unpack(days)),
  redis.call('HGETALL', KEYS[4]),
  redis.call('HGETALL', KEYS[5]),
  redis.call('ZCOUNT', KEYS[6], ARGV[1], '+inf'),
  redis.call('HGETALL', KEYS[7]),
  hll,
  redis.call('HEXISTS', KEYS[3], ARGV[2]),
  redis.call('HEXISTS', KEYS[3], ARGV[3]),
  {sum(KEYS[1]), sum(KEYS[2]), sum(KEYS[3])},
}
