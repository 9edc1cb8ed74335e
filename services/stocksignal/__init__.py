"""stocksignal: the one system that calculates ecommerce stock availability.

Subpackages, by concern:

- ``domain``    the pure core: positions, reservations, availability, ledger (no I/O).
- ``contract``  Avro schemas, codecs, partitioner and the topic catalogue.
- ``processor`` the stream processor on Kafka transactions that applies the core to the partition log.
- ``adapters``  consumers at the edges: Redis read model, storefront API, marketplace sync.
- ``cli``       the ``stocksignal`` command.

Nothing here does I/O at import time; :mod:`stocksignal.bootstrap` builds every client.
"""

__version__ = "0.1.0"
