-- submit: a new job, if its key may submit it: the key still exists, under its rate limit and
-- its jobs-in-flight limit, and the domain's queue under its cap. Then, all or nothing: the
-- record, its input blobs, its Celery message; the job joins the key's jobs in flight and its
-- domain's queued set (scored by Redis's clock, in the order messages enter the queue).
-- Answers {'queued'} or why not: {'unauthorized'}, {'rate_limited', retry_after_ms},
-- {'too_many_jobs'}, {'queue_full'}. A refused submit changes nothing.
-- KEYS: record, queue list, key record, key's rate state, key's jobs in flight, blob keys...
-- ARGV: ttl_s, message, domain, check_key (1/0), rate/min, max in flight, queue cap (0 = none),
--       job id, now (ISO), 2n, n field/value pairs of the record, blobs' bytes in KEYS order.
--! include end_job
local ttl, now = tonumber(ARGV[1]), now_ms()
local rate, in_flight, cap = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local domain, job_id = ARGV[3], ARGV[8]

if ARGV[4] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return {'unauthorized'} end

-- GCRA: each submit moves the key's theoretical arrival time on by 60 s / rate; a minute's
-- worth may come at once.
local next_tat
if rate > 0 then
  local period = 60000 / rate
  local tat = math.max(tonumber(redis.call('GET', KEYS[4]) or '0'), now)
  next_tat = tat + period
  local early = next_tat - now - 60000
  if early > 0 then return {'rate_limited', math.ceil(early)} end
end
if in_flight > 0 and redis.call('SCARD', KEYS[5]) >= in_flight then return {'too_many_jobs'} end
if cap > 0 and redis.call('LLEN', KEYS[2]) >= cap then return {'queue_full'} end

if next_tat then redis.call('SET', KEYS[4], tostring(next_tat), 'PX', 120000) end
local pairs_end = 10 + tonumber(ARGV[10])
redis.call('HSET', KEYS[1], unpack(ARGV, 11, pairs_end))
redis.call('EXPIRE', KEYS[1], ttl)
for i = 6, #KEYS do
  redis.call('SET', KEYS[i], ARGV[pairs_end + i - 5], 'EX', ttl)
end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('ZADD', '{{QUEUED}}' .. domain, now, job_id)
redis.call('SADD', '{{DOMAINS}}', domain)
redis.call('SADD', KEYS[5], job_id)
redis.call('EXPIRE', KEYS[5], ttl)
if ARGV[4] == '1' then redis.call('HSET', KEYS[3], 'last_used_at', ARGV[9]) end
return {'queued'}
