-- finish: a run ends 'succeeded' (with its result) or 'failed' (with its error). Answers the
-- prior status: anything but 'running' means the payload is dropped: the job was canceled
-- meanwhile, or ('superseded') a later run of it started because this one's worker was taken
-- for dead.
-- KEYS: the record.  ARGV: status, now (ISO), field ('result', 'result_ref': a result the run
-- stored in the blob store, or 'error'), payload JSON, job id, attempt (0: whichever run), ttl s.
--! include end_job
local record, id = KEYS[1], ARGV[5]
local s = redis.call('HGET', record, 'status')
if not s then return 'missing' end
if s ~= 'running' then return s end
if ARGV[6] ~= '0' and redis.call('HGET', record, 'attempts') ~= ARGV[6] then return 'superseded' end
redis.call('HSET', record, 'status', ARGV[1], 'finished_at', ARGV[2], ARGV[3], ARGV[4])
local started = tonumber(redis.call('HGET', record, 'started_ms') or '')
if started then  -- the domain's recent run times, for ETAs
  local runtimes = '{{RUNTIMES}}' .. redis.call('HGET', record, 'domain')
  redis.call('LPUSH', runtimes, now_ms() - started)
  redis.call('LTRIM', runtimes, 0, {{RUNTIMES_KEPT}} - 1)
end
end_job(record, id, tonumber(ARGV[7]), ARGV[1])
return s
