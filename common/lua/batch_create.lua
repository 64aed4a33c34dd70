-- batch_create: record a new batch, if its key is under its limit of batches in progress and
-- its limit of jobs in flight (a batch counts there as one job until it ends; its lines are
-- governed by the fair share instead). It starts 'validating' and joins the active batches.
-- KEYS: the batch's record, the key's batches, the key's active batches, the key's jobs in
--       flight, the active batches.
-- ARGV: batch id, most batches in progress (0: no limit), most jobs in flight (0: no limit),
--       now ms, how long an ended batch's record is kept (ms), field/value pairs of the record.
-- Answers {'created'}, {'too_many_batches'} or {'too_many_jobs'}.
local max_batches, max_jobs = tonumber(ARGV[2]), tonumber(ARGV[3])
if max_batches > 0 and redis.call('SCARD', KEYS[3]) >= max_batches then return {'too_many_batches'} end
if max_jobs > 0 and redis.call('SCARD', KEYS[4]) >= max_jobs then return {'too_many_jobs'} end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
-- The key's list forgets batches older than an ended one's record can be (the window is less).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[4]) - 2 * tonumber(ARGV[5]))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return {'created'}
