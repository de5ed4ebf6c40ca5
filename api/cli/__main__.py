"""``python -m api.cli``: how ``serve`` starts its aggregator process."""

from api.cli import main

main()
