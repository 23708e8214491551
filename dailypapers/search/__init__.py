"""Search: the keyword leg, a tantivy index beside the database (keyword.py; PostgreSQL's own
full text, storage/fulltext.py, until one is built); the semantic leg (vector.py embeds,
ann.py indexes beside SQLite, pgvector on PostgreSQL); their fusion (hybrid.py); and the one
place that picks the backends for a catalog (backends.py). The query language is
domain/query.py's; services/searching.py runs a search. docs/search.md describes the whole."""
