"""HTTP routes: thin, each parses, calls one counter function, shapes the answer."""
