"""civicpass: an open-source health code and citizen code platform."""

__version__ = "0.1.0"
