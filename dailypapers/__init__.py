"""dailypapers: an open, self-hostable Daily Papers."""

__version__ = "0.1.0"
