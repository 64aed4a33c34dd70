-- key_update: change an API key's limits or weight by id; answers its record's fields after
-- the change ({} when there is no such key). A field given as '' goes back to the default.
-- KEYS: the id index.  ARGV: key id, the record key prefix, n field/value pairs.
local sha = redis.call('HGET', KEYS[1], ARGV[1])
if not sha then return {} end
local record = ARGV[2] .. sha
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', record, ARGV[i])
  else
    redis.call('HSET', record, ARGV[i], ARGV[i + 1])
  end
end
return redis.call('HGETALL', record)
