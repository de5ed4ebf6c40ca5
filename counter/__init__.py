"""The write path and the data model of visitor-stats: keys, scripts, definitions."""
