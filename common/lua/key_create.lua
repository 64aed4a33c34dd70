-- key_create: store a new API key's record under the hash of its secret, and index it by id.
-- With ARGV[1] = 'nx', an existing record is left as it is (the bootstrap admin key).
-- KEYS: the key's record, the id index.  ARGV: 'nx' or '', key id, secret hash, n field/value pairs.
if ARGV[1] == 'nx' and redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 'created'
