-- position: where a queued job stands: the jobs ahead of it in its domain's queued set (in
-- the order their messages leave the queue: a job published again by the reconciler goes to
-- the front, as its message does), and the ms until it is estimated to start. The estimate is the earliest one
-- given so far (kept in the record), so neither figure goes up while the job waits.
-- Answers {-1, -1} for a job not queued; eta -1 when there is nothing to estimate from.
-- KEYS: the record.  ARGV: job id, domain, p50 run time ms (0: none), slots of the workers online
-- (the jobs they run at once in all).
--! include clock
local rank = redis.call('ZRANK', '{{QUEUED}}' .. ARGV[2], ARGV[1])
if not rank then return {-1, -1} end
local p50, slots = tonumber(ARGV[3]), tonumber(ARGV[4])
if p50 <= 0 or slots <= 0 then return {rank, -1} end
local now = now_ms()
local eta_at = now + (math.floor(rank / slots) + 1) * p50
local given = tonumber(redis.call('HGET', KEYS[1], 'eta_at_ms') or '')
if given and given <= eta_at then
  eta_at = given
else
  redis.call('HSET', KEYS[1], 'eta_at_ms', eta_at)
end
return {rank, math.max(0, eta_at - now)}
