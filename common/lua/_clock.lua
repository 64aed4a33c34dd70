-- Redis's own clock, so every process orders events alike.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The same clock to the microsecond (a fraction of a ms): orders events of the same ms, as a
-- queue's dispatch order does.
local function now_ms_exact()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
