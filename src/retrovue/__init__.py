"""retrovue: keep a media-ingest database in line with a declared retrovue.yaml."""

__version__ = "0.1.0"
