-- mark_epoch.lua: the store's epoch moved to a pass's snapshot generation, but only if the
-- epoch is still there. A store that lost its data while the pass wrote its snapshot files
-- has no epoch: writing it back would make the emptied store look whole, and nothing would
-- restore it (aggregator/snapshot.py).
--
-- KEYS[1] the store's epoch (HASH)   ARGV[1] epoch id   ARGV[2] generation
-- Returns 1 when moved, 0 when the epoch was gone.

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'generation', ARGV[2])
return 1
