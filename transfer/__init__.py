"""sqlite2pg: move a SQLite database into PostgreSQL, lossless or loud."""

__version__ = "0.1.0"
