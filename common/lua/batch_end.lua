-- batch_end: a batch ends (completed, failed, expired, cancelled): its record takes the last
-- fields, leaves the active batches and its key's jobs in flight, and expires ttl from now with
-- what is kept beside it (its output and error files are uploads of their own by then).
-- KEYS: the batch's record, its lock, the active batches, the key's active batches, the key's
--       jobs in flight, its lines in flight, its lines, its output parts, its error parts.
-- ARGV: token, batch id, ttl s, field/value pairs.
-- Answers 1, or 0 when the lock is another's.
--! include batch_holder
if not holds(KEYS[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SREM', KEYS[3], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[2])
redis.call('SREM', KEYS[5], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[2])
return 1
