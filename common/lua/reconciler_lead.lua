-- reconciler_lead: take the reconciler's lock when it is free, or extend it when this process
-- holds it, in one step: a lock that ran out between a read and an extend would otherwise be
-- extended for whoever took it meanwhile, and two processes would act in one pass.
-- KEYS: the lock. ARGV: this process's name, the lock's TTL (ms). Answers 1 when it leads.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
