"""Free ports for the servers a test starts (docs/architecture.md#keeping-the-code-in-shape)."""

from stocksignal.bench.probes import free_port, free_ports, port_free

__all__ = ["free_port", "free_ports", "port_free"]
