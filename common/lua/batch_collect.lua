-- batch_collect: ended line jobs were written to a part of the output and one of the error
-- file (blobs named with the token, so a process that lost the lock cannot overwrite a part
-- that counts): they leave the lines in flight, the counts move, and the parts are listed, all
-- at once. Listed parts are what the files are made of, so a line is in them exactly once
-- whatever crashes: a part written but not listed is ignored, and its lines written again.
-- KEYS: the batch's record, its lock, its lines in flight, its lines, its output parts, its
--       error parts.
-- ARGV: token, output part key ('': none), error part key ('': none), completed, failed, the
--       feed's next byte offset and line number ('' for no change: lines never submitted were
--       written, an expired batch's), job ids.
-- Answers 1, or 0 when the lock is another's.
--! include batch_holder
if not holds(KEYS[2], ARGV[1]) then return 0 end
for i = 8, #ARGV do
  redis.call('SREM', KEYS[3], ARGV[i])
  redis.call('HDEL', KEYS[4], ARGV[i])
end
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[5], ARGV[2]) end
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[6], ARGV[3]) end
redis.call('HINCRBY', KEYS[1], 'completed', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'failed', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'parts', 1)
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'offset', ARGV[6], 'line', ARGV[7]) end
return 1
