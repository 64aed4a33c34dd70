-- workers_online: the workers seen within `offline_after` ms, by domain, with their slots
-- (jobs each runs at once). Answers {domain, workers, slots, ...}.
-- ARGV: offline after ms.
--! include clock
local nodes = redis.call('ZRANGEBYSCORE', '{{WORKERS_SEEN}}', now_ms() - tonumber(ARGV[1]), '+inf')
local by_domain, order = {}, {}
for _, node in ipairs(nodes) do
  local info = redis.call('HGET', '{{WORKERS_INFO}}', node)
  if info then
    local domain, slots = string.match(info, '^(%S+) (%d+)$')
    if domain then
      if not by_domain[domain] then
        by_domain[domain] = {0, 0}
        order[#order + 1] = domain
      end
      by_domain[domain][1] = by_domain[domain][1] + 1
      by_domain[domain][2] = by_domain[domain][2] + tonumber(slots)
    end
  end
end
local answer = {}
for _, domain in ipairs(order) do
  answer[#answer + 1] = domain
  answer[#answer + 1] = by_domain[domain][1]
  answer[#answer + 1] = by_domain[domain][2]
end
return answer
