"""The write path of a hit: the intake verdicts (bots, spam, prefetch, opt-out), the visitor's
id and its daily salt, one round trip to the store, and the outage spool and its replay."""
