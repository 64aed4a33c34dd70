-- Whether the process stepping a batch still holds its lock (the token it took it with): a
-- process that lost it (it stalled past the lock's time) must change nothing of the batch.
local function holds(lock, token)
  return redis.call('GET', lock) == token
end
