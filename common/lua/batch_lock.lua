-- batch_lock: take a batch's lock, or renew it when this token holds it already; one API
-- process steps a batch at a time (api/openai/batches/runner.py), and every write it makes is
-- checked against the token (_batch_holder.lua).
-- KEYS: the lock. ARGV: token, time to hold it ms. Answers 1 (held) or 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
