"""The brokers the event bus publishes to, chosen by the URL's scheme: NATS JetStream (``nats://``),
RabbitMQ or another AMQP 0-9-1 broker (``amqp://``, ``amqps://``) and Kafka (``kafka://``).

Each :class:`Broker` has one duty: :meth:`~Broker.publish` returns once the broker has the message
for good (a JetStream ack, an AMQP publisher confirm, a Kafka ``acks=all``) and raises
:class:`BrokerError` otherwise: :class:`Refused` when the broker answered and turned this message
down (too large, not allowed, nacked), which waiting for the broker will not mend.
Drivers are imported when a broker of theirs is used (``pip install
'tmfgate[nats]'``, ``[amqp]``, ``[kafka]``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("nats", "amqp", "amqps", "kafka")
DEFAULT_PREFIX = "tmfgate"
_OPTIONS = {"nats": ("prefix", "stream"), "amqp": ("prefix", "exchange"), "kafka": ("prefix",)}
_OURS = ("prefix", "stream", "exchange")


class BrokerError(Exception):
    """The broker did not take a message (down, unreachable, no ack in time); publishing is retried."""


class Refused(BrokerError):
    """The broker answered and refused this message (too large, not allowed, nacked): its delivery is
    retried and parked after the configured attempts, while the other events go on. ``lost``: the
    refusal also closed the connection or channel (AMQP closes a channel on an error)."""

    def __init__(self, message: str, *, lost: bool = False) -> None:
        super().__init__(message)
        self.lost = lost


@dataclass(frozen=True)
class BusAddress:
    """An ``--event-bus`` URL, parsed: the driver's URL and the options tmfgate reads from its query."""

    kind: str  # nats, amqp or kafka
    server: str  # the URL the driver connects to, without tmfgate's own options
    prefix: str  # the first part of every subject, routing key and topic
    target: str  # the JetStream stream or the AMQP exchange ("" for Kafka)

    @classmethod
    def parse(cls, url: str) -> BusAddress:
        """The address of ``url``; ValueError, saying what is wrong, when it cannot be one."""
        parts = urlsplit(url.strip())
        shown = url.replace(parts.password, "***") if parts.password else url  # errors are printed
        kind = "amqp" if parts.scheme == "amqps" else parts.scheme
        if kind not in _OPTIONS or not parts.hostname:
            raise ValueError(
                f"must be nats://host:4222, amqp://user:password@host:5672/vhost or kafka://host:9092, not {shown!r}"
            )
        if kind == "kafka" and (parts.username or parts.password or parts.path.strip("/")):
            raise ValueError(
                f"kafka://host:9092,host2:9092 names the servers only, with no user or path, not {shown!r}"
            )
        query = parse_qsl(parts.query)
        ours = {k: v for k, v in query if k in _OURS}
        # The driver's own options (an AMQP heartbeat=) go to it; Kafka's URL carries only servers.
        theirs = [(k, v) for k, v in query if k not in _OURS]
        wrong = sorted(
            {k for k in ours if k not in _OPTIONS[kind]} | ({k for k, _ in theirs} if kind == "kafka" else set())
        )
        if wrong:
            raise ValueError(f"{kind} takes {', '.join(_OPTIONS[kind])} in its query, not {', '.join(wrong)}")
        prefix = ours.get("prefix", DEFAULT_PREFIX)
        if not prefix or any(c in prefix for c in " *>#/"):
            raise ValueError(f"the prefix must be a name such as {DEFAULT_PREFIX}, not {prefix!r}")
        # A stream's name cannot have dots, which a prefix may (acme.tmfgate).
        target = (
            ours.get("stream", prefix.upper().replace(".", "_")) if kind == "nats" else ours.get("exchange", prefix)
        )
        server = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(theirs), ""))
        return cls(kind, server, prefix, target if kind != "kafka" else "")


class Broker(Protocol):
    """A connection to one broker."""

    async def connect(self) -> None: ...

    async def publish(self, subject: str, key: str, message_id: str, body: bytes) -> None:
        """Publish ``body`` under ``subject``, returning once the broker acknowledged it; ``key`` orders
        (a Kafka partition key), ``message_id`` de-duplicates."""
        ...

    async def close(self) -> None: ...


def broker(address: BusAddress, timeout: float) -> Broker:
    """The broker ``address`` names; ``timeout``: seconds to connect or to get an acknowledgement."""
    kinds: dict[str, type[NatsBroker] | type[AmqpBroker] | type[KafkaBroker]] = {
        "nats": NatsBroker,
        "amqp": AmqpBroker,
        "kafka": KafkaBroker,
    }
    return kinds[address.kind](address, timeout)


def _driver_missing(kind: str, exc: ImportError) -> BrokerError:
    return BrokerError(f"The {kind} client is not installed: pip install 'tmfgate[{kind}]' ({exc}).")


class NatsBroker:
    """NATS JetStream: the stream ``target`` (made, capturing ``prefix.>``, when missing) stores each
    message; ``Nats-Msg-Id`` lets JetStream drop a message published twice within its window."""

    def __init__(self, address: BusAddress, timeout: float) -> None:
        self.address, self.timeout = address, timeout
        self._client: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        try:
            import nats  # noqa: PLC0415 - only when this broker is used
            from nats.js.errors import NotFoundError  # noqa: PLC0415
        except ImportError as exc:
            raise _driver_missing("nats", exc) from exc
        try:
            # No reconnecting inside the client: a lost connection fails the publishes in flight at
            # once, and the event bus connects anew for the retry.
            # (max_reconnect_attempts=1 is one try: the client's own count starts past the first.)
            self._client = await nats.connect(
                self.address.server,
                allow_reconnect=False,
                connect_timeout=self.timeout,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                error_cb=_quiet,
            )
            self._js = self._client.jetstream(timeout=self.timeout)
            try:
                await self._js.stream_info(self.address.target)
            except NotFoundError:
                await self._js.add_stream(name=self.address.target, subjects=[f"{self.address.prefix}.>"])
        except Exception as exc:
            await self.close()
            raise BrokerError(f"NATS at {_host(self.address)} could not be used: {_said(exc, self.address)}") from exc

    async def publish(self, subject: str, key: str, message_id: str, body: bytes) -> None:
        from nats.errors import MaxPayloadError  # noqa: PLC0415
        from nats.js.errors import APIError  # noqa: PLC0415

        try:
            await self._js.publish(subject, body, timeout=self.timeout, headers={"Nats-Msg-Id": message_id})
        except MaxPayloadError as exc:  # larger than the server's max_payload: never sent
            raise Refused(f"NATS refused {subject}: {_said(exc, self.address)}") from exc
        except APIError as exc:
            # JetStream answered with an error of the request's own (400: larger than the stream's
            # max_msg_size...); a 5xx is the server's trouble, which passes.
            said = _clean(str(exc), self.address)
            if exc.code is not None and 400 <= exc.code < 500:
                raise Refused(f"NATS refused {subject}: {said}") from exc
            raise BrokerError(f"NATS did not acknowledge {subject}: {said}") from exc
        except Exception as exc:
            raise BrokerError(f"NATS did not acknowledge {subject}: {_said(exc, self.address)}") from exc

    async def close(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


def _amqp_refusals() -> tuple[type[Exception], ...]:
    try:
        from aiormq.exceptions import (  # noqa: PLC0415 - only when this broker is used
            ChannelAccessRefused,
            ChannelNotFoundEntity,
            ChannelPreconditionFailed,
        )
    except ImportError:
        return ()
    return (ChannelAccessRefused, ChannelNotFoundEntity, ChannelPreconditionFailed)


class AmqpBroker:
    """AMQP 0-9-1 (RabbitMQ): persistent messages on the durable topic exchange ``target``, each
    confirmed by the broker; queues bound to it by routing key (``tmfgate.tmf622_product_ordering.#``)
    receive them. A message no queue is bound for is confirmed and dropped, as AMQP does."""

    def __init__(self, address: BusAddress, timeout: float) -> None:
        self.address, self.timeout = address, timeout
        self._connection: Any = None
        self._exchange: Any = None

    async def connect(self) -> None:
        try:
            import aio_pika  # noqa: PLC0415 - only when this broker is used
        except ImportError as exc:
            raise _driver_missing("amqp", exc) from exc
        try:
            self._connection = await aio_pika.connect(self.address.server, timeout=self.timeout)
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self.address.target, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except Exception as exc:
            await self.close()
            raise BrokerError(f"AMQP at {_host(self.address)} could not be used: {_said(exc, self.address)}") from exc

    async def publish(self, subject: str, key: str, message_id: str, body: bytes) -> None:
        import aio_pika  # noqa: PLC0415

        refusals = _amqp_refusals()
        message = aio_pika.Message(
            body,
            content_type="application/json",
            message_id=message_id,
            type=subject.rsplit(".", 1)[-1],
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await self._exchange.publish(message, routing_key=subject, timeout=self.timeout)
        except aio_pika.exceptions.DeliveryError as exc:  # a basic.nack: a queue refused it (full, rejecting)
            raise Refused(f"AMQP refused {subject}: {_said(exc, self.address)}") from exc
        except refusals as exc:  # 403, 404, 406 (larger than max_message_size): the channel is closed
            raise Refused(f"AMQP refused {subject}: {_said(exc, self.address)}", lost=True) from exc
        except Exception as exc:
            raise BrokerError(f"AMQP did not confirm {subject}: {_said(exc, self.address)}") from exc

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


class KafkaBroker:
    """Kafka: the topic is the subject, the key the resource id (so one resource's events stay in one
    partition, in order); ``acks=all`` and an idempotent producer."""

    def __init__(self, address: BusAddress, timeout: float) -> None:
        self.address, self.timeout = address, timeout
        self._producer: Any = None

    async def connect(self) -> None:
        try:
            from aiokafka import AIOKafkaProducer  # noqa: PLC0415 - only when this broker is used
        except ImportError as exc:
            raise _driver_missing("kafka", exc) from exc
        servers = urlsplit(self.address.server).netloc
        self._producer = AIOKafkaProducer(
            bootstrap_servers=servers.split(","),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(self.timeout * 1000),
        )
        try:
            await self._producer.start()
        except Exception as exc:
            await self.close()
            raise BrokerError(f"Kafka at {servers} could not be used: {_said(exc, self.address)}") from exc

    async def publish(self, subject: str, key: str, message_id: str, body: bytes) -> None:
        from aiokafka.errors import KafkaError  # noqa: PLC0415

        try:
            await self._producer.send_and_wait(
                subject, body, key=key.encode(), headers=[("message-id", message_id.encode())]
            )
        except KafkaError as exc:
            # Kafka marks each error retriable or not: too large, not authorized are not.
            if not exc.retriable:
                raise Refused(f"Kafka refused {subject}: {_said(exc, self.address)}") from exc
            raise BrokerError(f"Kafka did not acknowledge {subject}: {_said(exc, self.address)}") from exc
        except Exception as exc:
            raise BrokerError(f"Kafka did not acknowledge {subject}: {_said(exc, self.address)}") from exc

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()


async def _quiet(exc: Exception) -> None:
    """The NATS client's error callback: it would log each error with its trace; the bus says it once."""


def _said(exc: Exception, address: BusAddress) -> str:
    """What a driver's exception says, without the URL's password (delivery errors are shown to operators)."""
    return _clean(repr(exc), address)


def _clean(said: str, address: BusAddress) -> str:
    password = urlsplit(address.server).password
    return said.replace(password, "***") if password else said


def _host(address: BusAddress) -> str:
    """The broker's host and port, never its credentials, for messages."""
    parts = urlsplit(address.server)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


__all__ = ["SCHEMES", "Broker", "BrokerError", "BusAddress", "Refused", "broker"]
