-- A webhook delivery for a change of the job, when it asked for this kind of change ('start',
-- 'progress' or 'completed'; progress at most every HOOK_PROGRESS_MS): a delivery record and
-- its due time. The hooks worker (workers/domains/hooks) sends it, signed, and retries it.
-- The delivery keeps the job as it is now ('snapshot', the record's fields as JSON, less its
-- inputs), so a late or retried delivery still tells what happened when it was made.
local HOOK_TYPES = {start = 'job.started', progress = 'job.progress', completed = 'job.completed'}
local SNAPSHOT_SKIPS = {params = true, blobs = true, delivery_tag = true, hook_sending = true}

local function job_snapshot(record)
  local flat = redis.call('HGETALL', record)
  local fields = {}
  for i = 1, #flat, 2 do
    if not SNAPSHOT_SKIPS[flat[i]] then fields[flat[i]] = flat[i + 1] end
  end
  return cjson.encode(fields)
end

local function queue_hook(record, id, kind, now)
  local url, wanted = unpack(redis.call('HMGET', record, 'webhook', 'webhook_events'))
  if not url or not wanted then return end
  if not string.find(',' .. wanted .. ',', ',' .. kind .. ',', 1, true) then return end
  if kind == 'progress' then
    local last = tonumber(redis.call('HGET', record, 'hook_progress_ms') or '0')
    if now - last < {{HOOK_PROGRESS_MS}} then return end
    redis.call('HSET', record, 'hook_progress_ms', now)
  end
  local hook_id = 'msg_' .. id .. '_' .. redis.call('HINCRBY', record, 'hook_seq', 1)
  local hook = '{{HOOK}}' .. hook_id
  redis.call('HSET', hook, 'job', id, 'type', HOOK_TYPES[kind], 'created_ms', now, 'attempts', 0,
    'snapshot', job_snapshot(record))
  redis.call('EXPIRE', hook, {{HOOK_TTL_S}})
  redis.call('ZADD', '{{HOOKS_DUE}}', now, hook_id)
end
