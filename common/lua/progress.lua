-- progress: a running job reports how far it got. Answers 0 once this run should stop: the
-- job was canceled, or it runs again elsewhere (this run's worker was taken for dead).
-- The event it emits carries the report with only the new part of its text (`text`), or the
-- whole text and `reset` when it does not continue the last one (a new run).
-- KEYS: the record.  ARGV: progress JSON, attempt.
--! include events
local record = KEYS[1]
if redis.call('HGET', record, 'status') ~= 'running' then return 0 end
if redis.call('HGET', record, 'attempts') ~= ARGV[2] then return 0 end
local before = redis.call('HGET', record, 'progress')
redis.call('HSET', record, 'progress', ARGV[1])
local report = cjson.decode(ARGV[1])
if type(report) == 'table' and type(report.text) == 'string' then
  local old = before and cjson.decode(before) or {}
  local old_text = type(old) == 'table' and type(old.text) == 'string' and old.text or ''
  if string.sub(report.text, 1, #old_text) == old_text then
    report.text = string.sub(report.text, #old_text + 1)
  else
    report.reset = true
  end
end
emit(record, string.sub(record, #'{{JOB}}' + 1), 'progress', 'running', cjson.encode(report))
return 1
