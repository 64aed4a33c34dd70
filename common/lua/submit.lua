-- submit: a new job, if its key may submit it: the key still exists, under its rate limit and
-- its jobs-in-flight limit, and the domain's waiting jobs under its cap. Then, all or nothing:
-- the record (its Celery message beside it until dispatch) and its input blobs; the job
-- joins its domain's fair queue of its priority class (_dispatch.lua), the key's jobs in
-- flight, the listing indexes and, with a Cancel-After, the deadlines; then the domain's
-- dispatch moves jobs on to the Celery queue as far as its workers have room.
-- With an Idempotency-Key, a submit seen before answers that job instead (its body must be
-- the same: same fingerprint), before any limit is applied.
-- Answers {'queued'} or why not: {'unauthorized'}, {'rate_limited', retry_after_ms},
-- {'too_many_jobs'}, {'queue_full'}, {'duplicate', job id}, {'idempotency_conflict', job id},
-- {'inline_full'} (its inline inputs would take Redis's inline bytes past their budget: the
-- caller puts them in the blob store and submits again), {'redis_full'} (Redis is past the
-- watermark of its maxmemory: what is left is for the jobs accepted to finish).
-- A refused submit changes nothing.
-- KEYS: record, key record, key's rate state, key's jobs in flight, idempotency key, the key's
--       listing index, blob keys...
-- ARGV: ttl_s, message, domain, check_key (1/0), rate/min, max in flight, queue cap (0 = none),
--       job id, now (ISO), body fingerprint ('' without an Idempotency-Key), Cancel-After ms
--       (0: none), idempotency window s, priority class, the key's weight, the inline budget
--       (bytes of inputs Redis may hold at once; 0: none), the memory watermark (a share of
--       maxmemory; 0: none), 2n, n field/value pairs of the record, p (a document's pages, 0
--       for a job of one piece), the pages' domain, p times (page id, its message's delivery
--       tag, its params JSON, its message), blobs' bytes in KEYS order.
-- A document (p > 0) waits as its pages: each is a job of its own (task 'page', its 'parent'
-- the document) in its domain's fair queue; the document's own run, which puts their results
-- in order, joins its own domain's fair queue when its last page ends (_end_job.lua). The two
-- domains differ for a two-stage job (an extraction: OCR pages, then an llm run over their
-- text). It counts once against quotas.
--! include events
--! include dispatch
local ttl, now = tonumber(ARGV[1]), now_ms()
local rate, in_flight, cap = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local domain, job_id, fingerprint = ARGV[3], ARGV[8], ARGV[10]

if ARGV[4] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then return {'unauthorized'} end

-- With noeviction a Redis at maxmemory refuses every write, the workers' finishes too: new jobs
-- stop short of it, so the ones accepted can still end and free what they hold.
local watermark = tonumber(ARGV[16])
if watermark > 0 then
  local info = redis.call('INFO', 'memory')
  local used, max = tonumber(string.match(info, 'used_memory:(%d+)')), tonumber(string.match(info, 'maxmemory:(%d+)'))
  if max and max > 0 and used >= watermark * max then return {'redis_full'} end
end

if fingerprint ~= '' then
  local seen = redis.call('GET', KEYS[5])
  if seen then
    local prior, prior_fingerprint = string.match(seen, '^(%S+) (%S+)$')
    if prior_fingerprint == fingerprint then return {'duplicate', prior} end
    return {'idempotency_conflict', prior}
  end
end

-- GCRA: each submit moves the key's theoretical arrival time on by 60 s / rate; a minute's
-- worth may come at once.
local next_tat
if rate > 0 then
  local period = 60000 / rate
  local tat = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), now)
  next_tat = tat + period
  local early = next_tat - now - 60000
  if early > 0 then return {'rate_limited', tostring(math.ceil(early))} end
end
if in_flight > 0 and redis.call('SCARD', KEYS[4]) >= in_flight then return {'too_many_jobs'} end
local first_pair = 18
local pairs_end = first_pair - 1 + tonumber(ARGV[17])
local pages = tonumber(ARGV[pairs_end + 1])
local pages_domain = ARGV[pairs_end + 2]
local blobs_from = pairs_end + 3 + 4 * pages
local first_queue = domain
if pages > 0 then first_queue = pages_domain end
if cap > 0 and waiting(first_queue) + math.max(pages, 1) > cap then return {'queue_full'} end

-- Inline inputs ride in Redis only while the bytes all jobs hold there are under the budget:
-- a backlog of images must not fill Redis (its memory is for records and messages).
local inline = 0
for i = blobs_from, #ARGV do inline = inline + #ARGV[i] end
local budget = tonumber(ARGV[15])
if inline > 0 and budget > 0 and tonumber(redis.call('GET', '{{INLINE_BYTES}}') or '0') + inline > budget then
  return {'inline_full'}
end

if next_tat then redis.call('SET', KEYS[3], tostring(next_tat), 'PX', 120000) end
if inline > 0 then redis.call('INCRBY', '{{INLINE_BYTES}}', inline) end
redis.call('HSET', KEYS[1], unpack(ARGV, first_pair, pairs_end))
redis.call('HSET', KEYS[1], 'priority', ARGV[13])
redis.call('EXPIRE', KEYS[1], ttl)
-- Its message waits beside the record, not in it: one long value would turn the whole hash
-- into Redis's larger encoding (a few KiB a queued job instead of a few hundred bytes).
redis.call('SET', KEYS[1] .. '{{MESSAGE_SUFFIX}}', ARGV[2], 'EX', ttl)
for i = 7, #KEYS do
  redis.call('SET', KEYS[i], ARGV[blobs_from + i - 7], 'EX', ttl)
end
local owner = redis.call('HGET', KEYS[1], 'owner') or '-'
if pages == 0 then
  enqueue_fair(domain, ARGV[13], owner, tonumber(ARGV[14]), job_id, ttl)
else
  redis.call('HSET', KEYS[1], 'pages_total', pages, 'pages_done', 0, 'pages_failed', 0, 'weight', ARGV[14])
  local list = KEYS[1] .. '{{PAGES_SUFFIX}}'
  for p = 0, pages - 1 do
    local at = pairs_end + 3 + 4 * p
    local page_id = ARGV[at]
    local page = '{{JOB}}' .. page_id
    redis.call('HSET', page, 'id', page_id, 'domain', pages_domain, 'task', 'page', 'status', 'queued', 'owner', owner,
      'created_at', ARGV[9], 'attempts', 0, 'delivery_tag', ARGV[at + 1], 'params', ARGV[at + 2],
      'parent', job_id, 'priority', ARGV[13])
    redis.call('EXPIRE', page, ttl)
    redis.call('SET', page .. '{{MESSAGE_SUFFIX}}', ARGV[at + 3], 'EX', ttl)
    redis.call('RPUSH', list, page_id)
    enqueue_fair(pages_domain, ARGV[13], owner, tonumber(ARGV[14]), page_id, ttl)
  end
  redis.call('EXPIRE', list, ttl)
  redis.call('SADD', '{{DOMAINS}}', pages_domain)
end
redis.call('SADD', '{{DOMAINS}}', domain)
redis.call('SADD', KEYS[4], job_id)
redis.call('EXPIRE', KEYS[4], ttl)
-- Listing: a record lives at most ttl after its job ends, which is at most ttl after its
-- submit (the record's first TTL), so older entries can have no record.
for _, index in ipairs({KEYS[6], '{{ALL_JOBS}}'}) do
  redis.call('ZADD', index, now, job_id)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now - 2000 * ttl)
  redis.call('EXPIRE', index, 2 * ttl)
end
if tonumber(ARGV[11]) > 0 then
  local deadline = now + tonumber(ARGV[11])
  redis.call('HSET', KEYS[1], 'deadline_ms', deadline)
  redis.call('ZADD', '{{DEADLINES}}', deadline, job_id)
end
if fingerprint ~= '' then redis.call('SET', KEYS[5], job_id .. ' ' .. fingerprint, 'EX', tonumber(ARGV[12])) end
if ARGV[4] == '1' then redis.call('HSET', KEYS[2], 'last_used_at', ARGV[9]) end
emit(KEYS[1], job_id, 'status', 'queued')
dispatch(first_queue)
return {'queued'}
