"""What the integration and end-to-end tests share: ports, processes, waits, topics.

- :mod:`.ports`: free ports for throwaway servers;
- :mod:`.processes`: a stocksignal command as a process (started, checked, stopped);
- :mod:`.waits`: waiting until something holds, HTTP probes, metric sums;
- :mod:`.topics`: creating topics with a leader for every partition.

The ports, probes and waits are the package's own (stocksignal.bench.probes), so the
benchmarks and the demo wait for services the way the tests do.
"""
