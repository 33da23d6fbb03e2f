"""Enrichers: read an ingested asset's media and record technical facts (DESIGN §11).

Plain data in (``base.EnrichInput``), plain data out (a JSON-serialisable dict, or an
``errors.EnrichmentError`` with a stable code); ``pool.run_enrichment`` runs one enricher over
many inputs in worker processes; ``registry.load_registry`` finds the built-ins and plugins.
Nothing here touches the database.  This file imports nothing, so that a worker process loads
only what it runs, and FFmpeg's libraries load only when a built-in enricher first runs.
"""
