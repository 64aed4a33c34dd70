"""Pieces both sides import: settings, contracts, the job store and the Celery client.

Nothing here may import FastAPI, torch or paddle: the API image and every worker image
carry this package.
"""
