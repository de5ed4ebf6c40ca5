"""The figures people read: the summary the aggregator builds, the stats and history reads,
the audited adjustments, and history carried in and out."""
