-- hooks_claim: a pump (workers/domains/hooks) takes due webhook deliveries to hand to
-- `hooks.deliver` tasks. Each one taken is claimed: a new claim token, and its due time moved
-- to now + the claim's length, so a worker dying before it sends it only delays it, and other
-- pumps leave it alone meanwhile. A job's deliveries go out one at a time, in order: one waits
-- while an earlier one of its job is claimed. Takes no more than the queue has room for.
-- Deliveries whose record has expired are dropped. Answers {webhook id, token, ...}.
-- KEYS: the hooks queue (kombu's list).  ARGV: claim ms, most to take, most messages waiting.
--! include clock
local now = now_ms()
local room = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - redis.call('LLEN', KEYS[1]))
if room <= 0 then return {} end
-- Some of the due ones may wait behind an earlier delivery of their job: look a bit further.
local due = redis.call('ZRANGEBYSCORE', '{{HOOKS_DUE}}', '-inf', now, 'LIMIT', 0, room * 4)
local taken = {}
for _, hook_id in ipairs(due) do
  if #taken >= room * 2 then break end
  local hook = '{{HOOK}}' .. hook_id
  local job = redis.call('HGET', hook, 'job')
  if not job then
    redis.call('ZREM', '{{HOOKS_DUE}}', hook_id)
  else
    local record = '{{JOB}}' .. job
    local sending = redis.call('HGET', record, 'hook_sending')
    local waits = sending and sending ~= hook_id
      and (redis.call('HGET', '{{HOOK}}' .. sending, 'claim') or '') ~= ''
    if not waits then
      local token = tostring(redis.call('HINCRBY', hook, 'claims', 1))
      redis.call('HSET', hook, 'claim', token)
      redis.call('ZADD', '{{HOOKS_DUE}}', now + tonumber(ARGV[1]), hook_id)
      if redis.call('EXISTS', record) == 1 then redis.call('HSET', record, 'hook_sending', hook_id) end
      taken[#taken + 1] = hook_id
      taken[#taken + 1] = token
    end
  end
end
return taken
