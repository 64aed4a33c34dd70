--! include events
--! include dispatch
-- A job ends (finished, canceled, expired, failed by the platform): it leaves every set of
-- live jobs (its fair queue too, if it never left it), its input blobs go (those in the blob
-- store are listed for the reconciler to delete), its record is kept
-- `ttl` seconds from now, the change is emitted, and the domain dispatches the next job into
-- the slot it may have freed. The caller has set its status (`status`) and what goes with it.
-- One page of a document ended (common/lifecycle.py draws it): the document counts it, shows
-- its progress, and once every page has ended its own run (putting the pages' results in
-- order) joins its own domain's fair queue, in this same script: a two-stage job's second
-- stage (an extraction's llm run over its OCR pages) is queued atomically with the first's end.
-- A document that ended already (canceled, expired) is left as it is.
local function page_ended(parent_id, domain, status)
  local parent = '{{JOB}}' .. parent_id
  local s, parent_domain = unpack(redis.call('HMGET', parent, 'status', 'domain'))
  if s ~= 'queued' and s ~= 'running' then return end
  parent_domain = parent_domain or domain
  local done = redis.call('HINCRBY', parent, 'pages_done', 1)
  local failed = tonumber(redis.call('HGET', parent, 'pages_failed') or '0')
  if status ~= 'succeeded' then failed = redis.call('HINCRBY', parent, 'pages_failed', 1) end
  local total = tonumber(redis.call('HGET', parent, 'pages_total'))
  local progress = {pages_done = done, pages_total = total, pages_failed = failed}
  if parent_domain ~= domain then progress.stage = domain end  -- which stage of two runs
  local report = cjson.encode(progress)
  redis.call('HSET', parent, 'progress', report)
  emit(parent, parent_id, 'progress', 'running', report)
  if done >= total then
    local owner, priority, weight = unpack(redis.call('HMGET', parent, 'owner', 'priority', 'weight'))
    enqueue_fair(parent_domain, priority or 'interactive', owner or '-', tonumber(weight) or 1, parent_id,
      math.max(1, redis.call('TTL', parent)))
    if parent_domain ~= domain then dispatch(parent_domain) end  -- the page's domain dispatches below
  end
end

local function end_job(record, id, ttl, status)
  local domain = redis.call('HGET', record, 'domain')
  local owner = redis.call('HGET', record, 'owner')
  local blobs, stored = unpack(redis.call('HMGET', record, 'blobs', 'stored'))
  if domain then
    redis.call('SREM', '{{RUNNING}}' .. domain, id)
    redis.call('ZREM', '{{QUEUED}}' .. domain, id)
    leave_fair(domain, id)
  end
  if owner then redis.call('SREM', '{{INFLIGHT}}' .. owner, id) end
  redis.call('ZREM', '{{LEASES}}', id)
  redis.call('ZREM', '{{DEADLINES}}', id)
  if blobs then
    for name in string.gmatch(blobs, '[^,]+') do
      local blob = '{{JOB}}' .. id .. '{{BLOB_INFIX}}' .. name
      local size = redis.call('STRLEN', blob)
      if redis.call('DEL', blob) == 1 and size > 0 then
        if redis.call('DECRBY', '{{INLINE_BYTES}}', size) < 0 then redis.call('SET', '{{INLINE_BYTES}}', 0) end
      end
    end
  end
  -- Inputs in the blob store: the reconciler's leader deletes them (Lua cannot reach the store).
  if stored then redis.call('SADD', '{{BLOBS_GONE}}', id) end
  redis.call('DEL', record .. '{{MESSAGE_SUFFIX}}')
  redis.call('EXPIRE', record, ttl)
  local parent_id, pages = unpack(redis.call('HMGET', record, 'parent', 'pages_total'))
  if parent_id and domain then page_ended(parent_id, domain, status) end
  if pages then
    -- A document that ends with pages still to run (canceled, expired) takes them with it; its
    -- pages' records go (their results are in the document's by now, or no longer wanted): a
    -- run still going meets no record, and stops.
    local finished_at = redis.call('HGET', record, 'finished_at') or ''
    local list = record .. '{{PAGES_SUFFIX}}'
    for _, page_id in ipairs(redis.call('LRANGE', list, 0, -1)) do
      local page = '{{JOB}}' .. page_id
      local ps = redis.call('HGET', page, 'status')
      if ps == 'queued' or ps == 'running' then
        redis.call('HSET', page, 'status', 'canceled', 'finished_at', finished_at)
        end_job(page, page_id, ttl, 'canceled')
      end
      redis.call('DEL', page, page .. '{{EVENTS_SUFFIX}}', page .. '{{MESSAGE_SUFFIX}}')
    end
    redis.call('DEL', list)
  end
  emit(record, id, 'status', status)
  if domain then dispatch(domain) end  -- a slot may have freed: the next job in fair order
end

-- The platform gives up on a job whose runs were lost too often: it fails with `error`.
local function fail_lost(record, id, now_iso, error, ttl)
  redis.call('HSET', record, 'status', 'failed', 'finished_at', now_iso, 'error', error)
  end_job(record, id, ttl, 'failed')
end

-- A job past its Cancel-After deadline never runs, or stops like a canceled one: it ends
-- 'expired'. Answers whether it was (it has a deadline, and it has passed).
local function expire_if_due(record, id, now, now_iso, ttl)
  local deadline = tonumber(redis.call('HGET', record, 'deadline_ms') or '')
  if not deadline or deadline > now then return false end
  local error = cjson.encode({type = 'DeadlineExceeded', message = 'its Cancel-After deadline passed before it finished'})
  redis.call('HSET', record, 'status', 'expired', 'finished_at', now_iso, 'error', error)
  end_job(record, id, ttl, 'expired')
  return true
end
