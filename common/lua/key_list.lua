-- key_list: every API key's record fields, one flat field/value list per key.
-- KEYS: the id index.  ARGV: the record key prefix.
local out = {}
local index = redis.call('HGETALL', KEYS[1])
for i = 2, #index, 2 do
  local fields = redis.call('HGETALL', ARGV[1] .. index[i])
  if #fields > 0 then out[#out + 1] = fields end
end
return out
