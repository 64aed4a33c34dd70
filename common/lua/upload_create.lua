-- upload_create: record an upload, unless its declared bytes would take its key past its
-- storage quota: the declared bytes of the key's live uploads (its index forgets those whose
-- records expired). The record and its place in the index expire UPLOAD_TTL_S from now.
-- KEYS: the upload's record, the key's uploads index.
-- ARGV: upload id, declared bytes, time to live ms, quota bytes (0: none), n field/value pairs.
-- Answers {'created', now ms, expires ms}, or {'over_quota', bytes in use, ms until the key's
-- first upload expires}.
--! include clock
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local used = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local declared = redis.call('HGET', '{{UPLOAD}}' .. id, 'bytes')
  if declared then used = used + tonumber(declared) else redis.call('ZREM', KEYS[2], id) end
end
local bytes, quota = tonumber(ARGV[2]), tonumber(ARGV[4])
if quota > 0 and used + bytes > quota then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local wait = 0
  if first[2] then wait = tonumber(first[2]) - now end
  return {'over_quota', string.format('%d', used), string.format('%d', wait)}
end
local expires = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'created_ms', string.format('%d', now), 'expires_ms', string.format('%d', expires),
  unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[1], expires)
redis.call('ZADD', KEYS[2], expires, ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return {'created', string.format('%d', now), string.format('%d', expires)}
