"""Ingest: parsers that turn arXiv and Hugging Face payloads into PaperRecords, and the runner
that stores them. Parsers never write; `run.py` is the only ingest code that touches the store."""
