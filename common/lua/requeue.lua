-- requeue: the reconciler puts a job back on its queue with a new message, when
--   'lease': it is running but its lease ran out (its worker died), or
--   'lost':  it is queued but its message is in neither the queue nor kombu's unacked hash, or
--   'stuck': it is queued and its message sat unacked long past any start (its worker died
--            between taking the message and starting the job).
-- A job whose runs were lost max times fails instead. Answers 'requeued', 'exhausted' or
-- 'skip' (things changed since the reconciler looked).
-- It goes back at the front of its queue, not the back: it was taken from the front (it has
-- waited longest), and its worker's death must not send it behind a backlog of later jobs.
-- ARGV: job id, reason, message, its delivery tag, queue, max attempts, WorkerLost error JSON,
-- now (ISO), ttl s.
--! include end_job
--! include queue_head
local id, reason = ARGV[1], ARGV[2]
local record = '{{JOB}}' .. id
local s = redis.call('HGET', record, 'status')
if not s then
  redis.call('ZREM', '{{LEASES}}', id)
  return 'skip'
end
local now = now_ms()
local old_tag = redis.call('HGET', record, 'delivery_tag')
if reason == 'lease' then
  if s ~= 'running' then return 'skip' end
  local lease = redis.call('ZSCORE', '{{LEASES}}', id)
  if lease and tonumber(lease) > now then return 'skip' end
  if tonumber(redis.call('HGET', record, 'attempts') or '0') >= tonumber(ARGV[6]) then
    fail_lost(record, id, ARGV[8], ARGV[7], tonumber(ARGV[9]))
    return 'exhausted'
  end
elseif s ~= 'queued' then
  return 'skip'
elseif reason == 'lost' and old_tag and redis.call('HEXISTS', '{{UNACKED}}', old_tag) == 1 then
  return 'skip'
end
if old_tag then
  -- The old message must not come back too (kombu restores unacked ones after its timeout).
  redis.call('HDEL', '{{UNACKED}}', old_tag)
  redis.call('ZREM', '{{UNACKED_INDEX}}', old_tag)
end
local domain = redis.call('HGET', record, 'domain')
redis.call('HSET', record, 'status', 'queued', 'delivery_tag', ARGV[4])
redis.call('SREM', '{{RUNNING}}' .. domain, id)
redis.call('ZREM', '{{LEASES}}', id)
-- Its place in the queued set is just before the job next out of the queue (the order the
-- set keeps is the order messages leave the queue).
local _, head_score = queue_head(ARGV[5], domain)
redis.call('ZADD', '{{QUEUED}}' .. domain, math.min(head_score or now, now) - 1, id)
redis.call('RPUSH', ARGV[5], ARGV[3])
if reason == 'lease' then emit(record, id, 'status', 'queued') end
return 'requeued'
