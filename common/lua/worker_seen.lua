-- worker_seen: a worker's heartbeat (workers/core/presence.py): it is online, serving `domain`
-- with `slots` jobs at once. Workers not seen for `forget` ms are dropped from the registry
-- (the API already counts them offline much sooner: WORKERS_OFFLINE_AFTER_S).
-- Each beat also dispatches the domain's waiting jobs (_dispatch.lua): a worker that comes
-- online, or has room again, gets work at once.
-- ARGV: node, domain, slots, forget ms.
--! include clock
--! include dispatch
local now = now_ms()
redis.call('ZADD', '{{WORKERS_SEEN}}', now, ARGV[1])
redis.call('HSET', '{{WORKERS_INFO}}', ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
local gone = redis.call('ZRANGEBYSCORE', '{{WORKERS_SEEN}}', '-inf', now - tonumber(ARGV[4]))
for _, node in ipairs(gone) do
  redis.call('ZREM', '{{WORKERS_SEEN}}', node)
  redis.call('HDEL', '{{WORKERS_INFO}}', node)
end
dispatch(ARGV[2])
return #gone
