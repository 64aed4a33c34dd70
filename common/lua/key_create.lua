-- key_create: store a new API key's record under the hash of its secret, index it by id, and
-- give it a fresh webhook signing secret.
-- With ARGV[1] = 'nx', an existing record is left as it is (the bootstrap admin key).
-- KEYS: the key's record, the id index, its webhook secret.  ARGV: 'nx' or '', key id, secret
-- hash, webhook secret, n field/value pairs.
if ARGV[1] == 'nx' and redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SET', KEYS[3], ARGV[4])
return 'created'
