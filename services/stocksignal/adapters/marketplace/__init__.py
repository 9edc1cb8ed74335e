"""The marketplace sync worker: pushes one channel's availability to a marketplace over HTTP.

Pure parts (token bucket, backoff, Retry-After, payload, coalescer, offset tracking) are
separate modules so they can be tested without I/O; :mod:`.worker` wires them to Kafka, Redis
and HTTP. See docs/adapters.md.
"""
