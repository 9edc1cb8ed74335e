"""The event contract: Avro schemas, codecs, the partitioner and the topic catalogue.

What the processor and the adapters use::

    codec = make_codec(settings.schema_registry_url)
    name, record = codec.decode(value)           # CodecError.dlq_reason on bad input
    value = codec.encode("ReservationDecided", record)
    topic = topic_for_record(name)
    key = key_for(topic, name, record)
    partition = partition_for(key, partitions)

See docs/contract.md.
"""

from stocksignal.contract.codec import Codec, Decoded
from stocksignal.contract.dlq import DlqReason, dlq_headers
from stocksignal.contract.errors import (
    CodecError,
    DecodeError,
    EncodeError,
    SchemaError,
    UnknownSchemaError,
)
from stocksignal.contract.framing import make_codec
from stocksignal.contract.partitioning import confluent_producer_config, murmur2, partition_for
from stocksignal.contract.schemas import SchemaSet, WriterSchema, default_schema_set, schema_dir
from stocksignal.contract.single_object import SingleObjectCodec
from stocksignal.contract.topics import (
    TOPICS,
    CatalogueError,
    Role,
    Topic,
    key_for,
    list_topics,
    topic,
    topic_for_record,
)

__all__ = [
    "TOPICS",
    "CatalogueError",
    "Codec",
    "CodecError",
    "DecodeError",
    "Decoded",
    "DlqReason",
    "EncodeError",
    "Role",
    "SchemaError",
    "SchemaSet",
    "SingleObjectCodec",
    "Topic",
    "UnknownSchemaError",
    "WriterSchema",
    "confluent_producer_config",
    "default_schema_set",
    "dlq_headers",
    "key_for",
    "list_topics",
    "make_codec",
    "murmur2",
    "partition_for",
    "schema_dir",
    "topic",
    "topic_for_record",
]
