"""API key management: the ``/v1/keys`` routes (admin) and ``python -m api.keys`` (straight on Redis)."""
