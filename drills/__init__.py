"""drill: a trainer for the systems-coding rounds of LLM-infrastructure interviews."""

__version__ = "0.1.0"
