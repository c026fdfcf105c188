"""odlar: open platform for AI in critical civilian sectors."""

__version__ = "0.1.0"
