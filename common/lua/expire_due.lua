-- expire_due: jobs past their Cancel-After deadline end 'expired': queued ones never run,
-- running ones stop at their next progress report or heartbeat (their result is dropped).
-- Answers the ids expired. ARGV: now (ISO), ttl s, limit.
--! include end_job
local now = now_ms()
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', '{{DEADLINES}}', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))) do
  local record = '{{JOB}}' .. id
  local s = redis.call('HGET', record, 'status')
  if s ~= 'queued' and s ~= 'running' then
    redis.call('ZREM', '{{DEADLINES}}', id)  -- ended meanwhile, or its record expired
  elseif expire_if_due(record, id, now, ARGV[1], tonumber(ARGV[2])) then
    expired[#expired + 1] = id
  end
end
return expired
