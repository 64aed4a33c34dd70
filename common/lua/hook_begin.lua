-- hook_begin: a `hooks.deliver` task starts an attempt at the delivery it was handed. Answers
-- {} when the hand-over is stale (the delivery is gone, or was claimed again since: that claim
-- sends it), else {now ms, this attempt's number, type, created ms, the job's snapshot}. The
-- claim now lasts as long as a send may (ARGV[3] ms).
-- KEYS: the delivery.  ARGV: webhook id, claim token, send ms.
--! include clock
local hook = KEYS[1]
if redis.call('HGET', hook, 'claim') ~= ARGV[2] then return {} end
local now = now_ms()
redis.call('ZADD', '{{HOOKS_DUE}}', now + tonumber(ARGV[3]), ARGV[1])
local attempt = redis.call('HINCRBY', hook, 'attempts', 1)
local kind, created, snapshot = unpack(redis.call('HMGET', hook, 'type', 'created_ms', 'snapshot'))
return {now, attempt, kind, created, snapshot}
