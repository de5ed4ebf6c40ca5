-- lease.lua: take or renew the aggregator leader lease (only its holder renews it).
--
-- KEYS[1] leader   STRING holder token, with a relative expiry
-- ARGV[1] token of this aggregator   ARGV[2] lease length, ms
-- Returns 1 when this aggregator holds the lease now, else 0.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
