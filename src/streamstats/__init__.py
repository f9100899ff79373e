"""streamstats: real-time agent statistics for live-chat contact centers."""

__all__ = ["__version__"]

__version__ = "0.1.0"
