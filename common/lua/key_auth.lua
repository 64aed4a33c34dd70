-- key_auth: the record of the API key whose secret hashes to KEYS[1] ({} for none), marking it
-- used now. KEYS: the key's record.  ARGV: now.
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1])
return redis.call('HGETALL', KEYS[1])
