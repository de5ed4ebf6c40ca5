-- restore_site.lua: bring one site back from the aggregator's snapshot, once.
--
-- Mode "add": the store lost the site's data (no epoch marker): the snapshot is added to
-- whatever was counted since the loss, so nothing counted on either side is lost.
-- Mode "max": the store is older than the snapshot (restored from an old backup): each
-- figure becomes the larger of the two, so no figure goes down.
-- Either way the marker is set in the same step, so the restore happens exactly once, with
-- the fields the workers' journals read (counter/record/journal.py).
--
-- (KEYS in this order: counter/keys.py, SiteKeys.snapshot_keys.)
-- KEYS[1] epoch marker  KEYS[2] config  KEYS[3] totals  KEYS[4] offsets  KEYS[5] adjustments
-- KEYS[6] pageviews_by_day  KEYS[7] visits_by_day  KEYS[8] visitors_by_day  KEYS[9] page_views
-- KEYS[10] access  KEYS[11] page_imports  KEYS[12] imported_days  KEYS[13] page_adjustments
-- KEYS[14] open_days; KEYS[15..] pairs: a visitors HLL of the snapshot, and a scratch key
--          beside it (SiteKeys.scratch)
-- ARGV[1] "add" or "max"   ARGV[2] snapshot JSON   ARGV[3] generation   ARGV[4] store epoch id
-- ARGV[5] the snapshot's local day (open again unless its visitors row is there)
-- ARGV[6..] pairs, one per KEYS pair: the HLL's ttl, s (0: none), and its bytes
-- Returns 1 when restored, 0 when there was nothing to do.

local marker = redis.call('HGET', KEYS[1], 'generation')
if ARGV[1] == 'add' and marker then return 0 end
if ARGV[1] == 'max' and marker and tonumber(marker) >= tonumber(ARGV[3]) then return 0 end

-- The visitors HLLs first: merging is a union, so if anything below fails, the next try
-- merges them again without harm. What was counted since the loss stays in the union.
for i = 15, #KEYS, 2 do
  local j = 6 + (i - 15)
  redis.call('SET', KEYS[i + 1], ARGV[j + 1])
  redis.call('PFMERGE', KEYS[i], KEYS[i], KEYS[i + 1])
  redis.call('DEL', KEYS[i + 1])
  local ttl = tonumber(ARGV[j])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl, 'NX') end
end

local snap = cjson.decode(ARGV[2])
if snap.config and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], snap.config)
end
local hashes = {[3] = 'totals', [6] = 'pageviews', [7] = 'visits', [8] = 'visitors',
                [9] = 'page_views', [11] = 'page_imports'}
for index, name in pairs(hashes) do
  for field, value in pairs(snap[name] or {}) do
    if ARGV[1] == 'add' then
      redis.call('HINCRBY', KEYS[index], field, value)
    else
      local current = tonumber(redis.call('HGET', KEYS[index], field) or '0')
      if current < value then redis.call('HSET', KEYS[index], field, value) end
    end
  end
end
-- Keys and tokens, and which days an import set: the snapshot's record where the store has
-- none ("add": lost since), the snapshot's record outright ("max": it is the newer).
for index, name in pairs({[10] = 'access', [12] = 'imported_days'}) do
  for field, value in pairs(snap[name] or {}) do
    if ARGV[1] == 'add' then
      redis.call('HSETNX', KEYS[index], field, value)
    else
      redis.call('HSET', KEYS[index], field, value)
    end
  end
end
-- The pages set by hand: the longer ledger wins.
local page_ledger = snap.page_adjustments or {}
if redis.call('LLEN', KEYS[13]) < #page_ledger then
  redis.call('DEL', KEYS[13])
  for _, entry in ipairs(page_ledger) do redis.call('RPUSH', KEYS[13], entry) end
end
-- Adjustments: the longer ledger wins, with its offsets.
local adjustments = snap.adjustments or {}
if redis.call('LLEN', KEYS[5]) < #adjustments then
  redis.call('DEL', KEYS[5])
  for _, entry in ipairs(adjustments) do redis.call('RPUSH', KEYS[5], entry) end
  redis.call('DEL', KEYS[4])
  for field, value in pairs(snap.offsets or {}) do redis.call('HSET', KEYS[4], field, value) end
end
-- The day's HLL is back: its day must be closed into the history like any other.
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[8], ARGV[5]) == 0 then
  redis.call('SADD', KEYS[14], ARGV[5])
end
-- The restore's own id (the store's clock: any value unseen before will do), and the
-- snapshot it came from: the workers' journals compare them with what they hold.
local now = redis.call('TIME')
redis.call('HSET', KEYS[1], 'generation', ARGV[3], 'id', ARGV[4], 'durable', ARGV[3],
           'restored', now[1] .. '.' .. now[2], 'restored_from', ARGV[3])
return 1
