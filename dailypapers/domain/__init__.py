"""The domain: what a paper, a daily entry, a user and a filter are, and the rules that need no
I/O (merging two descriptions of one paper, finding code links). Modules here import nothing
else of ours, so every layer (ingest, storage, search, services, web, cli) can use them."""
