-- renew: a worker's heartbeat for the runs it holds, so their leases do not run out. Answers
-- the ids no longer this run's (canceled, finished, or run again elsewhere).
-- ARGV: lease ms, then job id / attempt pairs.
--! include clock
local until_ms = now_ms() + tonumber(ARGV[1])
local gone = {}
for i = 2, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local record = '{{JOB}}' .. id
  local s, a = unpack(redis.call('HMGET', record, 'status', 'attempts'))
  if s == 'running' and a == attempt then
    redis.call('ZADD', '{{LEASES}}', 'XX', until_ms, id)
  else
    gone[#gone + 1] = id
  end
end
return gone
