-- hook_done: how an attempt at a delivery went. 'delivered' and 'dropped' (no more attempts)
-- end the delivery; 'retry' makes it due again at ARGV[5] (ms), unless it was claimed again
-- meanwhile (then that claim owns it). The job's record, while it exists, shows the attempt
-- (webhook_last_status, webhook_attempts, webhook_next_attempt_at: none when no retry is
-- due), and the job's next delivery may go. The job's own status is never touched.
-- KEYS: the delivery, the job's record.  ARGV: webhook id, claim token, outcome, status text,
-- next attempt (ms), the same as an ISO datetime.
local hook, record, hook_id, outcome = KEYS[1], KEYS[2], ARGV[1], ARGV[3]
local mine = redis.call('HGET', hook, 'claim') == ARGV[2]
if outcome ~= 'retry' then
  redis.call('DEL', hook)
  redis.call('ZREM', '{{HOOKS_DUE}}', hook_id)
elseif mine then
  redis.call('HSET', hook, 'claim', '')
  redis.call('ZADD', '{{HOOKS_DUE}}', tonumber(ARGV[5]), hook_id)
end
if redis.call('EXISTS', record) == 0 then return 0 end
redis.call('HSET', record, 'webhook_last_status', ARGV[4])
redis.call('HINCRBY', record, 'webhook_attempts', 1)
if outcome ~= 'retry' then
  redis.call('HDEL', record, 'webhook_next_attempt_at')
elseif mine then
  redis.call('HSET', record, 'webhook_next_attempt_at', ARGV[6])
end
if (mine or outcome ~= 'retry') and redis.call('HGET', record, 'hook_sending') == hook_id then
  redis.call('HDEL', record, 'hook_sending')
end
return 1
