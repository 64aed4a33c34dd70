-- The job whose message is next out of a Celery queue (kombu's list: LPUSH in, BRPOP takes
-- from the right end), and where it stands in its domain's queued set: id, score; or nil.
local function queue_head(queue, domain)
  local head = redis.call('LINDEX', queue, -1)
  if not head then return nil end
  local ok, message = pcall(cjson.decode, head)
  if not (ok and type(message) == 'table' and type(message.headers) == 'table' and message.headers.id) then
    return nil
  end
  local score = redis.call('ZSCORE', '{{QUEUED}}' .. domain, message.headers.id)
  if not score then return nil end
  return message.headers.id, tonumber(score)
end
