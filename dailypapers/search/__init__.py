"""Search: the query language (query.py) and the keyword leg (keyword.py). The semantic leg
and fusion follow (issue 4)."""
