-- worker_gone: a worker shutting down leaves the registry at once (not after its last
-- heartbeat ages out). ARGV: node.
redis.call('ZREM', '{{WORKERS_SEEN}}', ARGV[1])
redis.call('HDEL', '{{WORKERS_INFO}}', ARGV[1])
return 1
