-- finish: a running job ends 'succeeded' (with its result) or 'failed' (with its error); the
-- input blobs go whatever the outcome. Answers the prior status: anything but 'running' means
-- the job was canceled meanwhile and the payload is dropped.
-- KEYS: the record, then its input blobs.  ARGV: status, now, field ('result' or 'error'),
-- payload JSON, running-set prefix, job id, events channel, in-flight prefix.
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return 'missing' end
redis.call('SREM', ARGV[5] .. redis.call('HGET', KEYS[1], 'domain'), ARGV[6])
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then redis.call('SREM', ARGV[8] .. owner, ARGV[6]) end
if s ~= 'running' then return s end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2], ARGV[3], ARGV[4])
redis.call('PUBLISH', ARGV[7], ARGV[6] .. ' ' .. ARGV[1])
return s
