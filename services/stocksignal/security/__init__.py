"""How stocksignal's clients prove who they are and whom they talk to.

- :mod:`.kafka`: the librdkafka security properties every Kafka client shares (protocol,
  SASL PLAIN / SCRAM / OAUTHBEARER-OIDC, TLS and mTLS, hostname verification), merged with the
  pass-through properties of :mod:`stocksignal.kafka_properties`, refusing conflicts at start.
- :mod:`.redis`: redis-py options for ``rediss://``, CA, client certificate and ACL login.
- :mod:`.registry`: the Schema Registry client's authentication and TLS.
- :mod:`.kafka_probe` and :mod:`.redis_probe`: a connection check at start that turns a wrong
  password or an untrusted certificate into a :class:`~.errors.AccessRefused` naming the setting
  to check, instead of librdkafka's retry-forever or a generic timeout.

The settings are documented in docs/operations.md ("Connecting to a secured cluster" and the
configuration reference). Nothing here logs or shows a secret's value. No I/O at import time.
"""
