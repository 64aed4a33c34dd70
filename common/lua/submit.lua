-- submit: a new job's record, its input blobs and its Celery message, all or nothing.
-- KEYS: the record, the domain's queue list, then one key per input blob.
-- ARGV: ttl_s, message, 2n, n field/value pairs of the record, then the blobs' bytes in KEYS order.
local ttl = tonumber(ARGV[1])
local pairs_end = 3 + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 4, pairs_end))
redis.call('EXPIRE', KEYS[1], ttl)
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[pairs_end + i - 2], 'EX', ttl)
end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 'queued'
