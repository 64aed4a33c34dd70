-- dispatch: move a domain's waiting jobs on to its Celery queue as far as its workers have
-- room, in fair order (_dispatch.lua). Submits, job ends and worker heartbeats dispatch on
-- their own; the reconciler runs this too, as a safety net. Answers how many moved.
-- ARGV: domain.
--! include dispatch
return dispatch(ARGV[1])
