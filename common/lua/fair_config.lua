-- fair_config: the dispatch settings every script that dispatches reads (_dispatch.lua),
-- written by every API and worker process at start and by the reconciler each pass (so a
-- Redis that lost its data gets them back). ARGV: offline ms, buffer, batch turn.
redis.call('HSET', '{{FAIR_CONFIG}}', 'offline_ms', ARGV[1], 'buffer', ARGV[2], 'batch_every', ARGV[3])
return 1
