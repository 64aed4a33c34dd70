--! include clock
-- Fair dispatch (common/fair.py draws it): accepted jobs wait in their domain's fair queues,
-- one per priority class ('interactive', 'batch'), each a sorted set scored by the job's
-- virtual start tag (start-time fair queuing: a job starts at max(the queue's virtual clock,
-- its key's last finish tag) and finishes 1/weight later; the clock is the start tag last
-- dispatched). Only as many move on into the domain's Celery queue as its workers online have
-- free slots, plus a small buffer: the rest wait where the fair order, not their arrival,
-- picks the next one.

-- The slots of the domain's workers whose heartbeat is younger than `offline_ms`.
local function worker_slots(domain, offline_ms)
  local slots = 0
  for _, node in ipairs(redis.call('ZRANGEBYSCORE', '{{WORKERS_SEEN}}', now_ms() - offline_ms, '+inf')) do
    local d, s = string.match(redis.call('HGET', '{{WORKERS_INFO}}', node) or '', '^(%S+) (%d+)$')
    if d == domain then slots = slots + tonumber(s) end
  end
  return slots
end

-- The dispatch settings every process writes at start (offline ms, buffer, batch turn).
local function fair_config()
  local c = redis.call('HMGET', '{{FAIR_CONFIG}}', 'offline_ms', 'buffer', 'batch_every')
  return tonumber(c[1]) or 15000, tonumber(c[2]) or 2, tonumber(c[3]) or 20
end

-- A new job joins its domain's fair queue of its class; answers its start tag. A key that
-- was idle starts at the clock (no credit saved up); a newcomer beside a flooding key thus
-- goes right after the jobs already dispatched.
local function enqueue_fair(domain, class, owner, weight, id, ttl)
  local queue = '{{FAIR}}' .. domain .. ':' .. class
  local clock = tonumber(redis.call('GET', queue .. ':clock') or '0')
  local start = math.max(clock, tonumber(redis.call('HGET', queue .. ':last', owner) or '0'))
  redis.call('HSET', queue .. ':last', owner, string.format('%.17g', start + 1 / weight))
  redis.call('ZADD', queue, string.format('%.17g', start), id)
  -- A domain idle for as long as a record lives starts its clocks afresh (and keys long gone
  -- leave no tags behind).
  redis.call('EXPIRE', queue .. ':last', ttl)
  if redis.call('EXPIRE', queue .. ':clock', ttl) == 0 then redis.call('SET', queue .. ':clock', '0', 'EX', ttl) end
  return start
end

-- A job leaves the fair queues without running (canceled, expired).
local function leave_fair(domain, id)
  redis.call('ZREM', '{{FAIR}}' .. domain .. ':interactive', id)
  redis.call('ZREM', '{{FAIR}}' .. domain .. ':batch', id)
end

-- Move waiting jobs into the Celery queue while the domain's workers have room; interactive
-- first, batch when no interactive job waits, and every `batch_every`-th turn while both do
-- (its minimum share). Answers how many moved.
local function dispatch(domain)
  local offline_ms, buffer, batch_every = fair_config()
  local queued, running = '{{QUEUED}}' .. domain, '{{RUNNING}}' .. domain
  local free = worker_slots(domain, offline_ms) + buffer - redis.call('ZCARD', queued) - redis.call('SCARD', running)
  local interactive, batch = '{{FAIR}}' .. domain .. ':interactive', '{{FAIR}}' .. domain .. ':batch'
  local moved = 0
  while free > 0 do
    local waiting_i, waiting_b = redis.call('ZCARD', interactive) > 0, redis.call('ZCARD', batch) > 0
    if not (waiting_i or waiting_b) then break end
    local from = interactive
    if waiting_b then
      local turn = redis.call('INCR', '{{FAIR}}' .. domain .. ':turns')
      if turn == 1 then redis.call('EXPIRE', '{{FAIR}}' .. domain .. ':turns', 86400) end
      if not waiting_i or turn % batch_every == 0 then from = batch end
    end
    local popped = redis.call('ZPOPMIN', from)
    local id = popped[1]
    redis.call('SET', from .. ':clock', popped[2], 'KEEPTTL')
    local record, held = '{{JOB}}' .. id, '{{JOB}}' .. id .. '{{MESSAGE_SUFFIX}}'
    local message = redis.call('GET', held)
    local s = redis.call('HGET', record, 'status')
    -- (a document is 'running' from its first page on, while its own run waits its turn)
    if message and (s == 'queued' or s == 'running') then
      redis.call('LPUSH', domain, message)
      redis.call('DEL', held)
      redis.call('ZADD', queued, now_ms(), id)
      free = free - 1
      moved = moved + 1
    end
  end
  return moved
end

-- Jobs of the domain waiting to start: dispatched ones (in the Celery queue, or taken by a
-- worker and not yet started) and those in its fair queues.
local function waiting(domain)
  return redis.call('ZCARD', '{{QUEUED}}' .. domain) + redis.call('ZCARD', '{{FAIR}}' .. domain .. ':interactive')
    + redis.call('ZCARD', '{{FAIR}}' .. domain .. ':batch')
end
