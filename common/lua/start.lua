-- start: a worker got the job's message and wants to run it. Answers 'queued' when it should;
-- anything else is why not: 'missing', 'canceled', a finished status (a redelivered
-- duplicate) or 'exhausted' (failed now: workers died on it ARGV[4] times already).
-- A redelivered message finds its job 'running' when the worker that had it died: run it again.
-- KEYS: the record.  ARGV: now, worker, running-set prefix, max attempts, WorkerLost error JSON,
-- events channel, job id, in-flight prefix.
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return 'missing' end
if s ~= 'queued' and s ~= 'running' then return s end
local running = ARGV[3] .. redis.call('HGET', KEYS[1], 'domain')
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[1], 'error', ARGV[5])
  redis.call('SREM', running, ARGV[7])
  local owner = redis.call('HGET', KEYS[1], 'owner')
  if owner then redis.call('SREM', ARGV[8] .. owner, ARGV[7]) end
  redis.call('PUBLISH', ARGV[6], ARGV[7] .. ' failed')
  return 'exhausted'
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1], 'worker', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('SADD', running, ARGV[7])
return 'queued'
