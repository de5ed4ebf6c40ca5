"""The HTTP face of visitor-stats and its command line."""
