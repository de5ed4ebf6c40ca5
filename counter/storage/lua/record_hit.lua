-- record_hit.lua: record one pageview or heartbeat of one visitor, atomically, in one call,
-- unless a flood cap says no: then count it as excluded ("rate_limited") and record nothing else.
-- (KEYS in this order: counter/keys.py, SiteKeys.record_hit_keys.)
--
-- KEYS[1]  last_seen        ZSET visitor -> last seen ms (online and sessions)
-- KEYS[2]  pageviews_by_day HASH date -> pageviews
-- KEYS[3]  visits_by_day    HASH date -> visits
-- KEYS[4]  totals           HASH measure -> all-time count
-- KEYS[5]  page_views       HASH page path -> all-time views
-- KEYS[6]  open_days        SET of dates not closed yet
-- KEYS[7]  visitors_by_day  HASH date -> visitors (present once the day is closed)
-- KEYS[8]  summary          STRING the aggregator's JSON summary (read only)
-- KEYS[9]  rate             HASH of this minute's counters: visitor id, address id, '#site'
-- KEYS[10] excluded         HASH reason -> hits excluded today
-- KEYS[11] hit_ids          SET of the hit ids counted in the hit's minute
-- KEYS[12] epoch marker     HASH the site's snapshot marker (read only: the worker's journal)
-- KEYS[13] page_titles      HASH page path -> latest title
-- KEYS[14] top_total        ZSET page path -> all-time views (the all-time most viewed)
-- KEYS[15] reading          HASH visitor -> the page of its last pageview or heartbeat
-- KEYS[16] online_pages     ZSET page path -> readers: visitors seen since the cursor whose
--                           last hit was on the page (kept here as visitors move; the
--                           aggregator lets go of those the cursor passes: online_expire.lua)
-- KEYS[17] online_cursor    STRING ms: online_pages counts the visitors seen since (none
--                           while it is missing: the next pass counts afresh)
-- KEYS[18] online_next      ZSET page path -> readers: a count afresh under way (live_pages.lua)
-- KEYS[19] online_next_at   HASH since, upto: online_next counts the visitors seen from since
--                           to before upto so far
-- KEYS[20..] the n spans' top sets (ZSET page path -> pageviews) of their current period,
--            the day's first, then week, month…; then the n spans' visitors HLLs, in the
--            same order (n = (#KEYS - 19) / 2)
-- ARGV[1] local date (YYYY-MM-DD)      ARGV[2] visitor id
-- ARGV[3] hit time, ms since epoch     ARGV[4] session timeout, ms
-- ARGV[5] online window, ms            ARGV[6] "pageview" or "heartbeat"
-- ARGV[7] page path
-- ARGV[8] pageviews a visitor may make in the minute (0: no cap)
-- ARGV[9] address id (a salted hash of the client address, never the address)
-- ARGV[10] hits an address may make in the minute (0: no cap)
-- ARGV[11] pageviews the site may take in the minute (0: no cap)
-- ARGV[12] rate key ttl, s             ARGV[13] excluded key ttl, s
-- ARGV[14] hit id                      ARGV[15] hit ids key ttl, s
-- ARGV[16] distinct visitors an address may bring in the minute (0: no cap)
-- ARGV[17] pageviews an address may make of one page in the minute (0: no cap)
-- ARGV[18] pages an address may add to the site's page views in the minute (0: no cap)
-- ARGV[19] once half the site cap is passed, hits an address may still make in the minute
-- ARGV[20] the page's title ('' when the hit carries none)
-- ARGV[21..] ttl, s, of each top set, then of each HLL, in the order of their KEYS (0: none
--            set here)
-- Returns {page_views, new_visit 0|1, online, pageviews today, visits today, summary or false,
--          exclusion reason or '', and for a counted pageview {generation, restored} of the
--          marker (each false when missing)}; a rate-limited pageview answers the page's views as if it
--          had counted (they go on rising for the flood, which so cannot see the cap);
--          a heartbeat of a visitor with no pageview within the session timeout records nothing;
--          a hit id seen before changes nothing and answers reason 'duplicate' with the box.

-- A replayed hit whose first attempt reached the store (sent to a frozen server, run when it
-- woke, answered too late) is already counted.
if redis.call('SADD', KEYS[11], ARGV[14]) == 0 then
  local online = redis.call('ZCOUNT', KEYS[1], tonumber(ARGV[3]) - tonumber(ARGV[5]), '+inf')
  local views = tonumber(redis.call('HGET', KEYS[5], ARGV[7]) or '0')
  return {views, 0, online, 0, 0, redis.call('GET', KEYS[8]), 'duplicate'}
end
redis.call('EXPIRE', KEYS[11], ARGV[15], 'NX')

local day, visitor = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local pageview = ARGV[6] == 'pageview'

-- Fixed one-minute windows. A hit over a cap still costs only this script: acknowledged, not
-- counted, and no presence either (a rotated user agent must not inflate "online").
local rate, address, path = KEYS[9], ARGV[9], ARGV[7]
local visitor_cap, address_cap, site_cap = tonumber(ARGV[8]), tonumber(ARGV[10]), tonumber(ARGV[11])
local visitors_cap, page_cap = tonumber(ARGV[16]), tonumber(ARGV[17])
local new_pages_cap, shed_above = tonumber(ARGV[18]), tonumber(ARGV[19])
local limited, excess, touched = false, 0, false
-- Counts one more in a counter of the minute (field: visitor ids are 24 hex digits, address
-- ids 'a' and 24; the prefixes below keep the other counters apart) against its cap.
local function over(field, cap)
  touched = true
  local count = redis.call('HINCRBY', rate, field, 1)
  if cap > 0 and count > cap then
    limited, excess = true, count - cap
  end
  return count
end
local address_hits = 0
if address_cap > 0 or site_cap > 0 then
  address_hits = over(address, address_cap)
end
if pageview and not limited then
  -- A visitor's first pageview of the minute is one more distinct visitor of its address: a
  -- user agent rotated on every hit makes a new visitor each time.
  if visitor_cap > 0 or visitors_cap > 0 then
    if over(visitor, visitor_cap) == 1 and not limited and visitors_cap > 0 then
      over('v' .. address, visitors_cap)
    end
  end
  if not limited and page_cap > 0 then
    over('p' .. address .. path, page_cap)
  end
  if not limited and new_pages_cap > 0 and redis.call('HEXISTS', KEYS[5], path) == 0 then
    over('n' .. address, new_pages_cap)
  end
  if not limited and site_cap > 0 then
    -- The site's pageviews of the minute: past half the cap an address that floods is shed
    -- (a newcomer still counts), past the cap everyone is. Shed hits do not fill it.
    touched = true
    local site_hits = tonumber(redis.call('HGET', rate, '#site') or '0') + 1
    if site_hits > site_cap or (2 * site_hits > site_cap and address_hits > shed_above) then
      limited, excess = true, math.max(1, site_hits - site_cap)
    else
      redis.call('HINCRBY', rate, '#site', 1)
    end
  end
end
if touched then
  redis.call('EXPIRE', rate, ARGV[12], 'NX')
end
if limited then
  redis.call('HINCRBY', KEYS[10], 'rate_limited', 1)
  redis.call('EXPIRE', KEYS[10], ARGV[13], 'NX')
  local online = redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[5]), '+inf')
  local views = tonumber(redis.call('HGET', KEYS[5], path) or '0')
  if pageview then views = views + excess end
  return {views, 0, online, 0, 0, redis.call('GET', KEYS[8]), 'rate_limited'}
end

local previous = redis.call('ZSCORE', KEYS[1], visitor)
if not pageview and (not previous or now - tonumber(previous) > tonumber(ARGV[4])) then
  -- Presence comes from a pageview: a heartbeat alone (a script that only beats) adds nobody.
  local online = redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[5]), '+inf')
  return {0, 0, online, 0, 0, redis.call('GET', KEYS[8]), ''}
end
-- GT: a replayed (older) hit never moves a visitor's last-seen backwards, nor its page.
if redis.call('ZADD', KEYS[1], 'GT', 'CH', now, visitor) == 1 then
  -- Who reads which page now: in a count of the visitors seen from lo to before hi, the
  -- visitor leaves the page it was counted on for this one.
  local page = ARGV[7]
  local function move(counts, lo, hi)
    local was = previous and tonumber(previous) >= lo and tonumber(previous) < hi
      and redis.call('HGET', KEYS[15], visitor)
    local is = now >= lo and now < hi and page
    if was == is then return end
    if was and tonumber(redis.call('ZINCRBY', counts, -1, was)) <= 0 then
      redis.call('ZREM', counts, was)
    end
    if is then redis.call('ZINCRBY', counts, 1, is) end
  end
  local cursor = redis.call('GET', KEYS[17])
  if cursor then
    move(KEYS[16], tonumber(cursor), math.huge)
  else
    local at = redis.call('HMGET', KEYS[19], 'since', 'upto')
    if at[1] then move(KEYS[18], tonumber(at[1]), tonumber(at[2])) end
  end
  redis.call('HSET', KEYS[15], visitor, page)
end
local online = redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[5]), '+inf')

if not pageview then
  return {0, 0, online, 0, 0, redis.call('GET', KEYS[8]), ''}
end

local new_visit = 0
if not previous or now - tonumber(previous) > tonumber(ARGV[4]) then
  new_visit = 1
end

local pageviews = redis.call('HINCRBY', KEYS[2], day, 1)
redis.call('HINCRBY', KEYS[4], 'pageviews', 1)
local visits
if new_visit == 1 then
  visits = redis.call('HINCRBY', KEYS[3], day, 1)
  redis.call('HINCRBY', KEYS[4], 'visits', 1)
else
  visits = tonumber(redis.call('HGET', KEYS[3], day) or '0')
end
local page_views = redis.call('HINCRBY', KEYS[5], path, 1)
redis.call('SADD', KEYS[6], day)

-- Most viewed: each span's current period counts the pageview; all time takes the page's own
-- figure (GT: a page the aggregator trimmed away comes back with its true count, never lower).
local spans = (#KEYS - 19) / 2
redis.call('ZADD', KEYS[14], 'GT', page_views, path)
for i = 20, 19 + spans do
  redis.call('ZINCRBY', KEYS[i], 1, path)
  local ttl = tonumber(ARGV[i + 1])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl, 'NX') end
end
-- The latest title, written only when it changed: most pageviews repeat it.
local title = ARGV[20]
if title ~= '' and redis.call('HGET', KEYS[13], path) ~= title then
  redis.call('HSET', KEYS[13], path, title)
end

local new_visitor = 0
for i = 20 + spans, #KEYS do
  local added = redis.call('PFADD', KEYS[i], visitor)
  if i == 20 + spans then new_visitor = added end
  local ttl = tonumber(ARGV[i + 1])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl, 'NX') end
end
-- A late hit (a replayed spool, a clock moved by `rollup --now`) for a day that is already
-- closed: its visitors row is frozen, so add the new visitor to the row and total directly.
if new_visitor == 1 and redis.call('HEXISTS', KEYS[7], day) == 1 then
  redis.call('HINCRBY', KEYS[7], day, 1)
  redis.call('HINCRBY', KEYS[4], 'visitors', 1)
end

return {page_views, new_visit, online, pageviews, visits, redis.call('GET', KEYS[8]), '',
        redis.call('HMGET', KEYS[12], 'generation', 'restored')}
