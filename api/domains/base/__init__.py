"""Routes every API process serves: health, readiness, domains and jobs."""
