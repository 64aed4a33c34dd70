--! include clock
--! include hooks
-- Every change a client can watch: appended to the job's event stream (replayed by
-- GET /v1/jobs/{id}/events; it expires with the record), announced on the events channel
-- (waking long-polls and streams in every API process) and handed to the job's webhook.
-- kind: 'status' (a new status) or 'progress' (data: the report, its text the new part only).
local FINISHED = {succeeded = true, failed = true, canceled = true, expired = true}

local function emit(record, id, kind, status, data)
  -- A new job's 'queued' is no event kept: every job starts so, and GET /v1/jobs/{id}/events
  -- says it first (a stream costs Redis 4 KiB and more from its first entry on: a backlog of
  -- queued jobs would hold one each).
  if kind == 'status' and status == 'queued' and redis.call('HGET', record, 'attempts') == '0' then return end
  local now = now_ms()
  local stream = record .. '{{EVENTS_SUFFIX}}'
  redis.call('XADD', stream, 'MAXLEN', '~', {{EVENTS_MAX}}, '*', 'type', kind, 'status', status, 'data', data or '')
  local ttl = redis.call('PTTL', record)
  if ttl > 0 then redis.call('PEXPIRE', stream, ttl) end
  if kind == 'progress' then
    redis.call('PUBLISH', '{{EVENTS}}', id .. ' progress')
    queue_hook(record, id, 'progress', now)
  elseif status ~= 'queued' or redis.call('HGET', record, 'attempts') ~= '0' then
    -- (a new job's 'queued' wakes nobody: no one can be waiting on it yet)
    redis.call('PUBLISH', '{{EVENTS}}', id .. ' ' .. status)
    if status == 'running' then queue_hook(record, id, 'start', now) end
    if FINISHED[status] then queue_hook(record, id, 'completed', now) end
  end
end
