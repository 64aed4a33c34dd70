-- cancel: a queued job will never run; a running one stops at its next progress report, or
-- its result is dropped. Answers the prior status ('missing' for no record).
-- KEYS: the record.  ARGV: now, running-set prefix, job id, events channel.
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return 'missing' end
if s ~= 'queued' and s ~= 'running' then return s end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[1])
redis.call('SREM', ARGV[2] .. redis.call('HGET', KEYS[1], 'domain'), ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3] .. ' canceled')
return s
