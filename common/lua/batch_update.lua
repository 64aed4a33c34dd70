-- batch_update: change a batch's record if it is in one of the statuses expected (and, with a
-- token, only while that token holds its lock): validated, finalizing, cancel.
-- KEYS: the batch's record, its lock.
-- ARGV: token ('' for a caller that holds no lock: a cancel), statuses expected (comma list),
--       field/value pairs.
-- Answers {'ok', status before}, {'lost'} (the lock is another's), {'missing'}, or
-- {'refused', status} (not in a status expected).
--! include batch_holder
if ARGV[1] ~= '' and not holds(KEYS[2], ARGV[1]) then return {'lost'} end
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
local expected = false
for name in string.gmatch(ARGV[2], '[^,]+') do
  if name == status then expected = true end
end
if not expected then return {'refused', status} end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return {'ok', status}
