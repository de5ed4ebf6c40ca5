-- carry_totals.lua: carry an old counter's all-time figures in, and record the import in the
-- adjustments ledger (the one `sites adjust` writes).
--
-- Each measure's offset moves by the difference between what this source carries now (its all
-- time beyond the days imported as history) and what its last ledger entry carried, so a second
-- run changes nothing and whatever was counted here meanwhile stays. The previous contribution
-- is read from the ledger itself, which the snapshots keep, not from a key of its own.
-- The entry's "periods" (ARGV[5]) are carried the same way: each is a field of the offsets
-- hash for one period (counter/keys.py period_offset, e.g. "visits@year:2026": what the old
-- counter's year held beyond the days it brought), which the summary adds to that period.
--
-- (KEYS in this order: counter/keys.py, SiteKeys.carry_totals_keys.)
-- KEYS[1] totals   HASH measure -> counted all time
-- KEYS[2] offsets  HASH measure -> adjustment offset
-- KEYS[3] ledger   LIST of JSON entries (counter/figures/adjustments.py)
-- ARGV[1] instant (ISO-8601)   ARGV[2] source   ARGV[3] reason   ARGV[4] the site's measure
-- ARGV[5] the entry's other fields as a JSON object (totals_before, days, pages, ...; and
--         "periods": {period offset field: what this source carries into it})
-- ARGV[6] "1": write the entry even if no offset moves (days or pages changed)
-- ARGV[7..] pairs: measure, the all time this source carries beyond its days
-- Returns the ledger entry written (JSON), or false when nothing moved and none was asked for.

local source = ARGV[2]
local previous = {}
local entries = redis.call('LRANGE', KEYS[3], 0, -1)
for i = #entries, 1, -1 do
  local ok, entry = pcall(cjson.decode, entries[i])
  if ok and type(entry) == 'table' and entry.source == source and type(entry.carried) == 'table' then
    previous = entry.carried
    break
  end
end

local carried, after, moved = {}, {}, false
local function carry(field, now)
  local delta = now - tonumber(previous[field] or 0)
  if delta ~= 0 then
    redis.call('HINCRBY', KEYS[2], field, delta)
    moved = true
  end
  carried[field] = now
end
for i = 7, #ARGV - 1, 2 do
  local measure = ARGV[i]
  carry(measure, tonumber(ARGV[i + 1]))
  after[measure] = tonumber(redis.call('HGET', KEYS[1], measure) or '0')
    + tonumber(redis.call('HGET', KEYS[2], measure) or '0')
end
local entry = cjson.decode(ARGV[5])
if type(entry.periods) == 'table' then
  for field, now in pairs(entry.periods) do carry(field, tonumber(now)) end
end

if moved or ARGV[6] == '1' then
  entry.at, entry.source, entry.reason, entry.kind = ARGV[1], source, ARGV[3], 'import'
  entry.carried, entry.totals_after = carried, after
  entry.measure = ARGV[4]
  entry.before = (entry.totals_before or {})[ARGV[4]] or 0
  entry.after = after[ARGV[4]] or 0
  local encoded = cjson.encode(entry)
  redis.call('RPUSH', KEYS[3], encoded)
  return encoded
end
return false
