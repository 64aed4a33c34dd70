-- upload_delete: forget an upload of the calling key (its bytes leave its quota at once); the
-- caller deletes the object. Another key's upload is left alone.
-- KEYS: the upload's record, the key's uploads index.  ARGV: upload id, owner (key id).
-- Answers 1 when it was forgotten, 0 when there was none of that owner's.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
