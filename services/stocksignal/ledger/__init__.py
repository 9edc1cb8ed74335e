"""The ledger read back: a SKU's stock as of a time, its movements over a window, and the
accuracy of cycle counts (docs/semantics.md, "Stock as of a time" and "Inventory accuracy").

Pure parts (``balances``, ``book``, ``accuracy``) take records and return numbers; ``kafka``
and ``history`` read the topics (``read_committed``, to a partition's end by position or
PARTITION_EOF). Nothing here writes.
"""
