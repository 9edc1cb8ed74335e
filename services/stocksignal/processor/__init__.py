"""The stateful stream processor (Faust): route input events to per-SKU commands, apply them
with the domain core, publish decisions, ledger movements and availability. See
docs/processor.md for the commit protocol."""
