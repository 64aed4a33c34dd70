-- A job ends (finished, canceled, failed by the platform): it leaves every set of live jobs,
-- its input blobs go, and its record is kept `ttl` seconds from now.
local function end_job(record, id, ttl)
  local domain = redis.call('HGET', record, 'domain')
  local owner = redis.call('HGET', record, 'owner')
  local blobs = redis.call('HGET', record, 'blobs')
  if domain then
    redis.call('SREM', '{{RUNNING}}' .. domain, id)
    redis.call('ZREM', '{{QUEUED}}' .. domain, id)
  end
  if owner then redis.call('SREM', '{{INFLIGHT}}' .. owner, id) end
  redis.call('ZREM', '{{LEASES}}', id)
  if blobs then
    for name in string.gmatch(blobs, '[^,]+') do
      redis.call('DEL', '{{JOB}}' .. id .. '{{BLOB_INFIX}}' .. name)
    end
  end
  redis.call('EXPIRE', record, ttl)
end

-- The platform gives up on a job whose runs were lost too often: it fails with `error`.
local function fail_lost(record, id, now_iso, error, ttl)
  redis.call('HSET', record, 'status', 'failed', 'finished_at', now_iso, 'error', error)
  end_job(record, id, ttl)
  redis.call('PUBLISH', '{{EVENTS}}', id .. ' failed')
end

-- Redis's own clock, so every process orders events alike.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
