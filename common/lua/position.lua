-- position: where a waiting job stands: how many jobs of its domain start before it, and the
-- ms until it is estimated to start. Ahead of it: the jobs already dispatched to the Celery
-- queue (in the order their messages leave it: a job published again by the reconciler goes
-- to the front), then the jobs of the fair queues in fair order: every interactive job before
-- a batch one (batch jobs' minimum share aside). The estimate is the earliest one given so far
-- (kept in the record), so it never goes up while the job waits.
-- Answers {-1, -1} for a job not waiting; eta -1 when there is nothing to estimate from.
-- KEYS: the record.  ARGV: job id, domain, p50 run time ms (0: none), slots of the workers online
-- (the jobs they run at once in all).
--! include clock
local id, domain = ARGV[1], ARGV[2]
local dispatched = '{{QUEUED}}' .. domain
local interactive, batch = '{{FAIR}}' .. domain .. ':interactive', '{{FAIR}}' .. domain .. ':batch'
local rank = redis.call('ZRANK', dispatched, id)
if not rank then
  local ahead = redis.call('ZCARD', dispatched)
  rank = redis.call('ZRANK', interactive, id)
  if rank then
    rank = ahead + rank
  else
    rank = redis.call('ZRANK', batch, id)
    if not rank then return {-1, -1} end
    rank = ahead + redis.call('ZCARD', interactive) + rank
  end
end
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
