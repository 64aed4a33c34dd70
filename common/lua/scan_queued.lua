-- scan_queued: a domain's queued jobs whose message may be gone. Messages leave the queue in
-- the order they entered it, so a job published before the one now at the queue's head has
-- been taken by a worker: its message is then in kombu's unacked hash ('stuck' if it has
-- been there longer than stuck ms: its worker died before starting it), or nowhere ('lost').
-- Answers {lost ids, stuck ids}.
-- ARGV: domain, queue, min age ms (younger jobs are left alone), stuck ms, limit.
--! include clock
--! include queue_head
local domain, queue = ARGV[1], ARGV[2]
local now = now_ms()
local cutoff = now - tonumber(ARGV[3])
local _, head_score = queue_head(queue, domain)
if head_score and head_score < cutoff then cutoff = head_score end
local lost, stuck = {}, {}
local ids = redis.call('ZRANGEBYSCORE', '{{QUEUED}}' .. domain, '-inf', '(' .. cutoff, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[5]))
for i = 1, #ids, 2 do
  local id, published = ids[i], tonumber(ids[i + 1])
  local s, tag = unpack(redis.call('HMGET', '{{JOB}}' .. id, 'status', 'delivery_tag'))
  if s ~= 'queued' then
    redis.call('ZREM', '{{QUEUED}}' .. domain, id)  -- an entry a crash left behind
  elseif tag and redis.call('HEXISTS', '{{UNACKED}}', tag) == 1 then
    if now - published > tonumber(ARGV[4]) then stuck[#stuck + 1] = id end
  else
    lost[#lost + 1] = id
  end
end
return {lost, stuck}
