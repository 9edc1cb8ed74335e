"""The stateful stream processor on Kafka transactions: route input events to per-SKU commands,
apply them with the domain core, publish decisions, ledger movements and availability,
exactly once. runtime.py is the commit protocol of docs/processor.md."""
