"""``/v1/uploads``: files sent to the blob store ahead of the jobs that name them (``file_id``),
never held whole in API memory. The record and quota: ``common.uploads``."""
