-- key_revoke: delete an API key by id, and its webhook secrets (current and previous); answers its record's fields
-- ({} when there is none).
-- KEYS: the id index.  ARGV: key id, the record key prefix.
local sha = redis.call('HGET', KEYS[1], ARGV[1])
if not sha then return {} end
local record = ARGV[2] .. sha
local fields = redis.call('HGETALL', record)
redis.call('DEL', record)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', '{{WHSEC}}' .. ARGV[1], '{{WHSEC}}' .. ARGV[1] .. '{{WHSEC_PREVIOUS}}')
return fields
