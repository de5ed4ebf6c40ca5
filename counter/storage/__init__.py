"""The connection to the store: embedded, standalone, Sentinel or Cluster; the Lua scripts and
their loading; many calls sent as one round trip. Imports neither ``record`` nor ``figures``."""
