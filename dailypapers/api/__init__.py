"""The JSON API: Hugging Face Papers-compatible endpoints under /api (shared/HF_API.md)."""
