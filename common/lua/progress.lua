-- progress: a running job reports how far it got. Answers 0 once this run should stop: the
-- job was canceled, or it runs again elsewhere (this run's worker was taken for dead).
-- KEYS: the record.  ARGV: progress JSON, attempt.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
return 1
