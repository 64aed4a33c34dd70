-- webhook_secret: an API key's webhook signing secret, made now (ARGV[2]) if it has none yet;
-- with ARGV[3] = 'rotate', replaced by ARGV[2], the old one kept beside it for ARGV[5] ms (0:
-- dropped at once) so deliveries carry both signatures while receivers move to the new one.
-- Answers {secret, previous secret or '', ms the previous one has left (0: none)}, or nil for
-- a key that does not exist (it was revoked) unless ARGV[4] is '0' (AUTH=off's owner, no key).
-- KEYS: the secret, the key id index, the previous secret.
-- ARGV: key id, a fresh secret, 'get' or 'rotate', '1' to require the key, keep previous ms.
if ARGV[4] == '1' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return false end
if ARGV[3] == 'rotate' then
  local old = redis.call('GET', KEYS[1])
  local keep = tonumber(ARGV[5])
  if old and keep > 0 then
    redis.call('SET', KEYS[3], old, 'PX', keep)
  else
    redis.call('DEL', KEYS[3])
  end
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'NX')
end
local previous = redis.call('GET', KEYS[3])
local left = 0
if previous then left = redis.call('PTTL', KEYS[3]) else previous = '' end
if left < 0 then left = 0 end
return {redis.call('GET', KEYS[1]), previous, left}
