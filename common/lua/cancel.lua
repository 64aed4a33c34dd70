-- cancel: a queued job will never run; a running one stops at its next progress report, or
-- its result is dropped. Answers the prior status: 'missing' for no record, and for another
-- owner's job (its existence is not theirs to learn).
-- KEYS: the record.  ARGV: now, running-set prefix, job id, events channel, caller's key id
-- ('' for an admin), in-flight prefix.
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return 'missing' end
local owner = redis.call('HGET', KEYS[1], 'owner')
if ARGV[5] ~= '' and owner ~= ARGV[5] then return 'missing' end
if s ~= 'queued' and s ~= 'running' then return s end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[1])
redis.call('SREM', ARGV[2] .. redis.call('HGET', KEYS[1], 'domain'), ARGV[3])
if owner then redis.call('SREM', ARGV[6] .. owner, ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[3] .. ' canceled')
return s
