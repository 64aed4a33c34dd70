-- cancel: a queued job will never run; a running one stops at its next progress report, or
-- its result is dropped. Answers the prior status: 'missing' for no record, and for another
-- owner's job (its existence is not theirs to learn).
-- KEYS: the record.  ARGV: now (ISO), job id, caller's key id ('' for an admin), ttl s.
--! include end_job
local record, id = KEYS[1], ARGV[2]
local s = redis.call('HGET', record, 'status')
if not s then return 'missing' end
if ARGV[3] ~= '' and redis.call('HGET', record, 'owner') ~= ARGV[3] then return 'missing' end
-- A document's page is no job of a client's: its document is canceled, not it.
if redis.call('HEXISTS', record, 'parent') == 1 then return 'missing' end
if s ~= 'queued' and s ~= 'running' then return s end
redis.call('HSET', record, 'status', 'canceled', 'finished_at', ARGV[1])
end_job(record, id, tonumber(ARGV[4]), 'canceled')
return s
