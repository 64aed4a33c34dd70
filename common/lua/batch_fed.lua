-- batch_fed: lines of a batch were submitted as jobs (each joined the batch's lines in flight
-- as its submit ran): note each job's line, and move the feed's place on past them, together,
-- so a process that takes the batch over resubmits from there (the same jobs: each line's
-- submit carries an idempotency key).
-- KEYS: the batch's record, its lock, its lines (job id -> line number and custom_id).
-- ARGV: token, next byte offset, next line number, pairs of job id and '<line> <custom_id>'.
-- Answers 1, or 0 when the lock is another's.
--! include batch_holder
if not holds(KEYS[2], ARGV[1]) then return 0 end
if #ARGV > 3 then redis.call('HSET', KEYS[3], unpack(ARGV, 4)) end
redis.call('HSET', KEYS[1], 'offset', ARGV[2], 'line', ARGV[3])
return 1
