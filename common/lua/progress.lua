-- progress: a running job reports how far it got. Answers 0 once it is no longer running
-- (canceled): the job should stop.
-- KEYS: the record.  ARGV: progress JSON.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1])
return 1
