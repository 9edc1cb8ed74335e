"""``stocksignal.client``: the library for services that produce stocksignal's input events and
read its outputs (docs/client.md).

::

    from stocksignal.client import EventProducer, OrderPlaced, OrderLine

    with EventProducer.from_settings(source="oms") as producer:     # settings from the environment
        delivery = producer.send(OrderPlaced(order_id="W-1", channel_id="webshop",
                                             lines=[OrderLine(sku="MUG", qty=2)]))
        print(delivery.result().offset)

Everything here reuses the contract (``stocksignal.contract``: catalogue, codecs, murmur2
partitioner) and the domain's validation (``stocksignal.domain.validate``): an event this
library accepts is one the processor accepts.
"""

from stocksignal.client.consumer import Output, OutputConsumer, UndecodableOutput, output_topics
from stocksignal.client.encoder import INPUT_RECORDS, EventEncoder, Prepared
from stocksignal.client.errors import (
    ClientError,
    DeliveryFailed,
    InvalidEvent,
    KafkaUnavailable,
    TopicMissing,
    Undelivered,
)
from stocksignal.client.events import (
    EVENTS,
    ChannelConfigured,
    ChannelRemoved,
    InboundExpected,
    InputEvent,
    InspectionLine,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    PickConfirmed,
    PickLine,
    ReturnInspected,
    ReturnReceived,
    ShipmentConfirmed,
    StockAdjusted,
    StockCounted,
    StockReceived,
    StockStatusChanged,
    TransferDispatched,
    TransferReceived,
)
from stocksignal.client.producer import Delivered, Delivery, EventProducer
from stocksignal.client.repeats import RepeatFilter
from stocksignal.domain.symbols import StockStatus

__all__ = [
    "EVENTS",
    "INPUT_RECORDS",
    "ChannelConfigured",
    "ChannelRemoved",
    "ClientError",
    "Delivered",
    "Delivery",
    "DeliveryFailed",
    "EventEncoder",
    "EventProducer",
    "InboundExpected",
    "InputEvent",
    "InspectionLine",
    "InvalidEvent",
    "KafkaUnavailable",
    "OrderCancelled",
    "OrderConfirmed",
    "OrderLine",
    "OrderPlaced",
    "Output",
    "OutputConsumer",
    "PickConfirmed",
    "PickLine",
    "Prepared",
    "RepeatFilter",
    "ReturnInspected",
    "ReturnReceived",
    "ShipmentConfirmed",
    "StockAdjusted",
    "StockCounted",
    "StockReceived",
    "StockStatus",
    "StockStatusChanged",
    "TopicMissing",
    "TransferDispatched",
    "TransferReceived",
    "UndecodableOutput",
    "Undelivered",
    "output_topics",
]
