-- start: a worker got the job's message and wants to run it. Answers {'queued', attempt} when
-- it should (attempt: this run's number, which its progress and finish must carry); else why
-- not: 'missing', 'canceled', a finished status (a redelivered duplicate), 'duplicate' (it
-- runs elsewhere under a live lease), 'exhausted' (failed now: runs were lost max times) or
-- 'expired' (its Cancel-After deadline passed: it ends so, without running).
-- A job left 'running' with its lease run out lost its worker: it runs again here.
-- KEYS: the record.  ARGV: now (ISO), worker, max attempts, WorkerLost error JSON, job id,
-- lease ms, ttl s.
--! include end_job
local record, id = KEYS[1], ARGV[5]
local s = redis.call('HGET', record, 'status')
if not s then return {'missing'} end
if s ~= 'queued' and s ~= 'running' then return {s} end
local now = now_ms()
if expire_if_due(record, id, now, ARGV[1], tonumber(ARGV[7])) then return {'expired'} end
if s == 'running' then
  local lease = redis.call('ZSCORE', '{{LEASES}}', id)
  if lease and tonumber(lease) > now then return {'duplicate'} end
end
local attempts = tonumber(redis.call('HGET', record, 'attempts') or '0')
if attempts >= tonumber(ARGV[3]) then
  fail_lost(record, id, ARGV[1], ARGV[4], tonumber(ARGV[7]))
  return {'exhausted'}
end
local domain = redis.call('HGET', record, 'domain')
redis.call('HSET', record, 'status', 'running', 'started_at', ARGV[1], 'started_ms', now, 'worker', ARGV[2],
  'attempts', attempts + 1)
-- A document is running from its first page's start (common/documents.py).
local parent_id = redis.call('HGET', record, 'parent')
if parent_id then
  local parent = '{{JOB}}' .. parent_id
  if redis.call('HGET', parent, 'status') == 'queued' then
    redis.call('HSET', parent, 'status', 'running', 'started_at', ARGV[1], 'started_ms', now)
    emit(parent, parent_id, 'status', 'running')
  end
end
redis.call('SADD', '{{RUNNING}}' .. domain, id)
redis.call('ZREM', '{{QUEUED}}' .. domain, id)
redis.call('ZADD', '{{LEASES}}', now + tonumber(ARGV[6]), id)
emit(record, id, 'status', 'running')
return {'queued', attempts + 1}
