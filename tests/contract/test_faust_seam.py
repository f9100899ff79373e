"""Contract tests: the Faust, mode and aiokafka internals behind ``runtime/seam.py``.

Every name in the table "Faust and aiokafka internals (runtime/seam.py)" of
docs/decisions.md has one test here, registered with :func:`contract` under that name
and run against the installed faust-streaming, mode-streaming and aiokafka: each checks
that the name is still there with the shape the seam uses and, where that is cheap, that
it still behaves as the seam assumes. An upgrade that renames, removes or changes one
of them breaks that test rather than the worker. ``test_contract_catches_a_missing_name``
takes each name away in turn and shows that its test then fails. ``make check-upgrade``
runs this module with the newest releases.

The pure tests construct Faust objects without connecting anywhere; the ones marked
``integration`` use the broker.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, MutableMapping, MutableSet
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final, TypeVar

import aiohttp
import aiokafka
import faust
import mode
import pytest
from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord
from faust.exceptions import NotReady
from faust.sensors import monitor as faust_monitor
from faust.stores import memory as faust_memory
from faust.stores import rocksdb as faust_rocksdb
from faust.tables import manager as faust_manager
from faust.tables import recovery as faust_recovery
from faust.tables.base import Collection
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT, Message
from faust.types import tuples as faust_tuples
from faust.types.assignor import PartitionAssignorT
from faust.types.router import RouterT
from faust.types.stores import StoreT
from faust.types.tables import CollectionT, TableManagerT
from faust.types.transports import ConductorT, ConsumerT, TransportT
from faust.web.drivers import aiohttp as faust_web
from mode.types.services import ServiceT

from streamstats.runtime import seam
from streamstats.runtime.intake import Fetch, Intake
from streamstats.runtime.kafka import delete_run_topics
from streamstats.runtime.output import OutputBatches
from streamstats.runtime.seam import (
    FETCH_MAX_WAIT_MS,
    IntakeConsumer,
    IntakeConsumerThread,
    IntakeTransport,
    SharedStoreMemory,
    kafka_producer,
    partition_store,
    restore_changelog,
    web_router,
)
from streamstats.runtime.tables import changelog_topics, define
from streamstats.settings import Settings
from streamstats.streaming.records import evidence_prefix

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "kafka://127.0.0.1:9"
"""The pure tests make Kafka clients but never start them."""
TOPIC = "seam-input"
TP0 = TP(TOPIC, 0)

CONTRACTS: dict[str, Callable[[], None]] = {}
"""The test of each internal, by the name the decisions table gives it."""


def contract(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a test as the contract of one internal name."""

    def register(test: Callable[[], None]) -> Callable[[], None]:
        CONTRACTS[name] = test
        return test

    return register


def run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh event loop in another thread (Playwright's sync API can
    leave a loop running on the test's thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@contextmanager
def faust_app(store: str = "memory://", broker: str = NOWHERE, **options: Any) -> Iterator[Any]:
    """A Faust app whose consumer is the seam's (as ``build_worker`` makes it)."""
    with tempfile.TemporaryDirectory() as datadir:
        app = faust.App(
            f"seam-{uuid.uuid4().hex[:8]}",
            broker=broker,
            store=store,
            datadir=datadir,
            autodiscover=False,
            **options,
        )
        app.transport = IntakeTransport(app.conf.broker_consumer, app)
        try:
            yield app
        finally:
            # The consumer's thread makes its event loop up front; unstarted, it stays open.
            thread_loop = app.consumer._thread.thread_loop
            if not thread_loop.is_running():
                thread_loop.close()


def record(offset: int, partition: int = 0) -> ConsumerRecord[bytes, bytes]:
    """An aiokafka record of the input topic, as a fetch returns it."""
    key, value = b"k%d" % offset, b"v%d" % offset
    return ConsumerRecord(TOPIC, partition, offset, 1_000, 0, key, value, None, 2, 2, [])


def message(offset: int) -> Message:
    """A Faust message of the input topic, as a stream acks it."""
    return Message(TOPIC, 0, offset, 1.0, 0, [], b"k", b"v", None, tp=TP0)


def acking_consumer(app: Any) -> Any:
    """The app's consumer, with acks on for the input topic (as for a subscribed agent)."""
    app.topics.acking_topics.add(TOPIC)
    return app.consumer


def parameters(function: Any) -> list[tuple[str, Any]]:
    return [(name, p.kind) for name, p in inspect.signature(function).parameters.items()]


def assert_faust_method(owner: type, name: str, params: list[str], coroutine: bool) -> None:
    """``owner`` has a concrete method ``name`` taking ``params``."""
    method = getattr(owner, name, None)
    assert method is not None, f"{owner.__module__}.{owner.__qualname__} has no {name}"
    assert not getattr(method, "__isabstractmethod__", False), f"{name} is abstract"
    assert inspect.iscoroutinefunction(method) is coroutine, f"{name}: async is {coroutine}"
    found = list(inspect.signature(method).parameters)
    assert found == params, f"{owner.__qualname__}.{name}{found}, the seam expects {params}"


def assert_override(faust_class: type, ours: type, name: str, coroutine: bool) -> None:
    """Faust still has ``name`` where the seam overrides it, called the same way."""
    assert_faust_method(
        faust_class, name, [p for p, _ in parameters(getattr(ours, name))], coroutine
    )
    assert issubclass(ours, faust_class)
    assert parameters(getattr(faust_class, name)) == parameters(getattr(ours, name))


# --- the consumer's fetch loop ---------------------------------------------------------


@contract("_drain_messages")
def test_drain_messages_is_the_fetch_loop_faust_runs() -> None:
    """Faust's Fetcher service runs ``consumer._drain_messages(fetcher)``: overriding
    it replaces the whole fetch loop."""
    assert_override(faust_aiokafka.Consumer, IntakeConsumer, "_drain_messages", coroutine=True)

    async def body() -> None:
        with faust_app() as app:
            called: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            async def drain(fetcher: Any) -> None:
                called.set_result(fetcher)

            app.consumer._drain_messages = drain
            fetcher = faust_consumer.Fetcher(app)
            await fetcher.start()
            try:
                ran_with = await asyncio.wait_for(called, 10)
            finally:
                await fetcher.stop()
            assert ran_with is fetcher

    run(body)


@contract("_wait_next_records")
def test_wait_next_records_returns_a_fetch_and_the_active_partitions() -> None:
    """``_wait_next_records(timeout)`` gives one fetch of the client, by partition, and
    the partitions active for it (the fetch loop admits only those)."""
    assert_faust_method(
        faust_aiokafka.Consumer, "_wait_next_records", ["self", "timeout"], coroutine=True
    )

    async def body() -> None:
        with faust_app() as app:
            consumer = app.consumer
            consumer.resume_partitions([TP0])
            fetched = {TP0: [record(0), record(1)]}
            asked: list[tuple[Any, float]] = []

            async def getmany(active_partitions: Any, timeout: float) -> Any:
                asked.append((set(active_partitions), timeout))
                return fetched

            consumer._getmany = getmany  # the client's fetch, stood in for
            records, active = await consumer._wait_next_records(timeout=0.5)
            assert records is fetched
            assert active == {TP0}
            assert asked == [({TP0}, 0.5)]

    run(body)


@contract("_read_offset")
def test_read_offset_is_where_faust_resumes_reading() -> None:
    """``_read_offset`` maps each partition to the last offset read (None when unknown);
    Faust sets it when it seeks, and skips what lies below it."""

    async def body() -> None:
        with faust_app() as app:
            consumer = app.consumer
            read_offset = getattr(consumer, "_read_offset", None)
            assert isinstance(read_offset, MutableMapping), "no _read_offset mapping"
            assert read_offset.get(TP0) is None

            async def seek_to_committed() -> dict[TP, int]:
                return {TP0: 42}

            consumer.seek_to_committed = seek_to_committed
            await consumer.perform_seek()
            assert read_offset.get(TP0) == 42
            assert consumer._read_offset is read_offset, "perform_seek replaced the mapping"

    run(body)


@contract("_buffered_partitions")
def test_buffered_partitions_are_those_paused_for_a_full_buffer() -> None:
    """A partition whose stream buffer is full leaves the active set and enters
    ``_buffered_partitions``; the fetch loop still admits its fetched records."""

    async def body() -> None:
        with faust_app() as app:
            consumer = app.consumer
            buffered = getattr(consumer, "_buffered_partitions", None)
            assert isinstance(buffered, MutableSet), "no _buffered_partitions set"
            consumer.resume_partitions([TP0])
            consumer.on_buffer_full(TP0)
            assert TP0 in consumer._buffered_partitions
            consumer.on_buffer_drop(TP0)
            assert TP0 not in consumer._buffered_partitions

    run(body)


@contract("_add_gap")
def test_add_gap_lets_the_commit_pass_offsets_with_no_message() -> None:
    """``_add_gap(tp, first, last)`` marks offsets that hold no message (transaction
    markers, compaction) so the committed offset can move past them."""
    assert_faust_method(
        faust_aiokafka.Consumer,
        "_add_gap",
        ["self", "tp", "offset_from", "offset_to"],
        coroutine=True,
    )

    async def body() -> None:
        with faust_app() as app:
            consumer = app.consumer
            fetch = Fetch({TP0: []})
            consumer._unacked_messages.add(fetch)
            consumer.ack_fetch(fetch, {TP0: (0, 2)})
            fetch = Fetch({TP0: []})
            consumer._unacked_messages.add(fetch)
            consumer.ack_fetch(fetch, {TP0: (6, 8)})
            await consumer._add_gap(TP0, 3, 5)
            # How Faust's commit reads the acks: the first offset not yet done.
            assert consumer._new_offset(TP0) == 9

    run(body)


@contract("_to_message")
def test_to_message_makes_faust_messages_of_other_topics() -> None:
    """Records of topics outside the intake go to Faust's callback as the message
    ``_to_message(tp, record)`` makes, stamped with the consumer generation."""
    assert_faust_method(faust_aiokafka.Consumer, "_to_message", ["self", "tp", "record"], False)

    async def body() -> None:
        with faust_app() as app:
            app.consumer_generation_id = 7
            made = app.consumer._to_message(TP0, record(5))
            assert isinstance(made, faust_tuples.ConsumerMessage)
            assert (made.topic, made.partition, made.offset) == (TOPIC, 0, 5)
            assert (made.key, made.value, made.tp) == (b"k5", b"v5", TP0)
            assert made.generation_id == 7

    run(body)


@contract("flow_active")
def test_flow_active_tells_whether_a_rebalance_stopped_the_flow() -> None:
    """``flow_active`` is False between Faust's ``stop_flow`` and ``resume_flow`` (a
    rebalance): the fetch loop then leaves the rest of a fetch unread."""

    async def body() -> None:
        with faust_app() as app:
            consumer = app.consumer
            assert getattr(consumer, "flow_active", None) is True, "no flow_active flag"
            consumer.stop_flow()
            assert consumer.flow_active is False
            consumer.resume_flow()
            assert consumer.flow_active is True

    run(body)


@contract("callback")
def test_callback_is_the_conductor_that_delivers_messages() -> None:
    """``callback`` is the coroutine Faust's own loop hands every message to: the
    conductor's ``on_message``, which routes it to the topic's streams."""

    async def body() -> None:
        with faust_app() as app:
            callback = getattr(app.consumer, "callback", None)
            assert callback is not None, "the consumer keeps no callback"
            assert callback is app.topics.on_message
            assert inspect.iscoroutinefunction(callback)

    run(body)


@contract("_stopped")
def test_stopped_is_the_event_a_service_sets_when_it_stops() -> None:
    """mode's ``Service._stopped`` is an event set once the service stops: the fetch loop
    ends when the consumer's or the fetcher's is set (as Faust's own loop does)."""

    async def body() -> None:
        service = mode.Service()
        stopped = getattr(service, "_stopped", None)
        assert stopped is not None, "no _stopped event"
        assert callable(stopped.is_set)
        await service.start()
        assert not stopped.is_set()
        await service.stop()
        assert stopped.is_set()
        assert issubclass(faust_consumer.Fetcher, mode.Service)
        assert issubclass(faust_aiokafka.Consumer, mode.Service)

    run(body)


# --- acks ------------------------------------------------------------------------------


@contract("_unacked_messages")
def test_unacked_messages_hold_a_rebalance_until_the_fetch_is_acked() -> None:
    """A :class:`Fetch` in ``_unacked_messages`` is in flight: ``wait_empty`` (what a
    rebalance waits on) waits for it, reading only its ``acked`` and ``refcount``, and
    :meth:`IntakeConsumer.ack_fetch` releases it."""

    async def body() -> None:
        with faust_app() as app:
            consumer = app.consumer
            unacked = getattr(consumer, "_unacked_messages", None)
            assert isinstance(unacked, MutableSet), "no _unacked_messages set"
            commits: list[object] = []

            async def commit(*args: Any, **kwargs: Any) -> bool:
                commits.append(args)
                return True

            consumer.commit = commit  # no broker here
            fetch = Fetch({TP0: []})
            consumer._unacked_messages.add(fetch)
            assert fetch in consumer.unacked
            waiting = asyncio.ensure_future(consumer.wait_empty())
            await asyncio.sleep(0.2)
            assert not waiting.done(), "wait_empty did not wait for the fetch"
            consumer.ack_fetch(fetch, {TP0: (0, 3)})
            await asyncio.wait_for(waiting, 5)
            assert fetch not in consumer.unacked
            assert commits, "wait_empty commits once nothing is in flight"

    run(body)


@contract("_waiting_for_ack")
def test_waiting_for_ack_is_the_future_an_ack_resolves() -> None:
    """While ``wait_empty`` waits, ``_waiting_for_ack`` is a future that an ack resolves
    to wake it at once (rather than after its one-second poll)."""

    async def body() -> None:
        with faust_app() as app:
            consumer = app.consumer
            assert hasattr(consumer, "_waiting_for_ack"), "no _waiting_for_ack"
            assert consumer._waiting_for_ack is None
            fetch = Fetch({TP0: []})
            consumer._unacked_messages.add(fetch)
            waiting = asyncio.ensure_future(consumer._wait_for_ack(timeout=1))
            await asyncio.sleep(0)
            armed = consumer._waiting_for_ack
            assert isinstance(armed, asyncio.Future), "nothing armed to wake the waiter"
            consumer.ack_fetch(fetch, {TP0: (0, 0)})
            assert armed.done(), "ack_fetch did not resolve the future"
            await waiting
            assert consumer._waiting_for_ack is None

    run(body)


@contract("_committed_offset")
def test_committed_offset_is_where_acks_start_to_count() -> None:
    """``_committed_offset`` maps each partition to its committed offset (None when
    unknown); Faust's ack ignores offsets below it, and so does ``ack_fetch``."""

    async def body() -> None:
        with faust_app() as app:
            consumer = acking_consumer(app)
            committed = getattr(consumer, "_committed_offset", None)
            assert isinstance(committed, MutableMapping), "no _committed_offset mapping"
            assert committed[TP0] is None

            async def seek_to_committed() -> dict[TP, int]:
                return {TP0: 10}

            consumer.seek_to_committed = seek_to_committed
            await consumer.perform_seek()
            assert consumer._committed_offset[TP0] == 10
            assert consumer.ack(message(9)) is False
            assert consumer.ack(message(10)) is True

    run(body)


def assert_ack_records(consumer: Any, name: str, check: Callable[[Any], bool]) -> None:
    """After Faust's own ack of offset 5, ``consumer.<name>`` holds it as ``check`` says."""
    assert hasattr(consumer, name), f"the consumer has no {name}"
    assert consumer.ack(message(5)) is True
    assert check(getattr(consumer, name)), f"{name} after Faust's ack: {getattr(consumer, name)}"


@contract("_acked")
def test_acked_lists_the_acked_offsets_per_partition() -> None:
    """``_acked[tp]`` lists the offsets acked and not yet committed."""

    async def body() -> None:
        with faust_app() as app:
            assert_ack_records(acking_consumer(app), "_acked", lambda acked: acked[TP0] == [5])

    run(body)


@contract("_acked_index")
def test_acked_index_is_the_set_of_acked_offsets() -> None:
    """``_acked_index[tp]`` is the set of ``_acked[tp]`` (a duplicate ack is ignored)."""

    async def body() -> None:
        with faust_app() as app:
            consumer = acking_consumer(app)
            assert_ack_records(consumer, "_acked_index", lambda index: index[TP0] == {5})
            assert consumer.ack(message(5)) is False

    run(body)


@contract("_n_acked")
def test_n_acked_counts_acks_since_the_last_commit() -> None:
    """``_n_acked`` counts acked offsets (Faust commits every ``broker_commit_every``)."""

    async def body() -> None:
        with faust_app() as app:
            consumer = acking_consumer(app)
            assert getattr(consumer, "_n_acked", None) == 0, "no _n_acked count"
            assert_ack_records(consumer, "_n_acked", lambda count: count == 1)

    run(body)


@contract("ack_lock")
def test_ack_lock_is_the_lock_faust_acks_under() -> None:
    """``faust.types.tuples.ack_lock`` is the reentrant lock Faust's ``Consumer.ack``
    holds; ``ack_fetch`` takes the same one, so the two never interleave."""
    lock = getattr(faust_tuples, "ack_lock", None)
    assert lock is not None, "faust.types.tuples has no ack_lock"
    assert seam.ack_lock is lock
    assert callable(lock.acquire)
    assert callable(lock.release)

    async def body() -> None:
        with faust_app() as app:
            consumer = acking_consumer(app)
            acked = threading.Event()

            def ack() -> None:
                consumer.ack(message(1))
                acked.set()

            with lock:
                worker = threading.Thread(target=ack)
                worker.start()
                held_back = not acked.wait(0.3)
                assert lock.acquire(blocking=False), "ack_lock is not reentrant"
                lock.release()
            worker.join(10)
            assert held_back, "Consumer.ack did not wait for ack_lock"
            assert acked.is_set()

    run(body)


def test_ack_fetch_leaves_the_bookkeeping_faust_ack_leaves() -> None:
    """Acking a fetch's offset ranges does what Faust's ack of each message would, with
    a committed offset in the range and offsets acked twice."""

    async def body() -> None:
        with faust_app() as app_a, faust_app() as app_b:
            by_message, by_fetch = acking_consumer(app_a), acking_consumer(app_b)
            other = TP(TOPIC, 1)
            for consumer in (by_message, by_fetch):
                consumer._committed_offset[TP0] = 3
            for offset in [*range(8), 5, 6]:
                by_message.ack(message(offset))
            for offset in range(20, 25):
                by_message.ack(Message(TOPIC, 1, offset, 1.0, 0, [], b"k", b"v", None, tp=other))
            for done in ({TP0: (0, 6)}, {TP0: (5, 7), other: (20, 24)}):
                fetch = Fetch({})
                by_fetch._unacked_messages.add(fetch)
                by_fetch.ack_fetch(fetch, done)
                assert not by_fetch._unacked_messages
            assert by_fetch._n_acked == by_message._n_acked
            for tp in (TP0, other):
                assert sorted(by_fetch._acked[tp]) == sorted(by_message._acked[tp])
                assert by_fetch._acked_index[tp] == by_message._acked_index[tp]
                assert by_fetch._new_offset(tp) == by_message._new_offset(tp)

    run(body)


# --- the consumer and its thread -------------------------------------------------------


@contract("_new_consumer_thread")
def test_new_consumer_thread_makes_the_consumers_thread() -> None:
    """Faust's thread-delegating consumer makes its thread with
    ``_new_consumer_thread()``: the seam's consumer runs the seam's thread."""
    assert_override(faust_aiokafka.Consumer, IntakeConsumer, "_new_consumer_thread", False)

    async def body() -> None:
        with faust_app() as app:
            assert type(app.consumer) is IntakeConsumer
            assert type(app.consumer._thread) is IntakeConsumerThread

    run(body)


@contract("_create_worker_consumer")
def test_create_worker_consumer_makes_the_aiokafka_consumer() -> None:
    """The consumer thread makes a worker's aiokafka consumer with
    ``_create_worker_consumer(transport)``; the seam's asks for a short fetch wait."""
    assert_override(
        faust_aiokafka.AIOKafkaConsumerThread,
        IntakeConsumerThread,
        "_create_worker_consumer",
        coroutine=False,
    )

    async def body() -> None:
        with faust_app() as app:
            made = app.consumer._thread._create_worker_consumer(app.transport)
            try:
                assert isinstance(made, aiokafka.AIOKafkaConsumer)
                assert made._fetch_max_wait_ms == FETCH_MAX_WAIT_MS
            finally:
                await made.stop()

    run(body)


@contract("_fetch_max_wait_ms")
def test_fetch_max_wait_ms_holds_the_option_the_fetcher_gets() -> None:
    """aiokafka's consumer keeps its ``fetch_max_wait_ms`` option in
    ``_fetch_max_wait_ms`` until ``start()`` makes the fetcher with it."""
    assert "fetch_max_wait_ms" in inspect.signature(aiokafka.AIOKafkaConsumer).parameters

    async def body() -> None:
        client = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=123)
        try:
            assert getattr(client, "_fetch_max_wait_ms", None) == 123, (
                "_fetch_max_wait_ms does not keep the option"
            )
        finally:
            await client.stop()

    run(body)


@pytest.mark.integration
def test_short_fetch_wait_reaches_the_fetcher(bootstrap_servers: str) -> None:
    """Started, the seam's aiokafka consumer fetches with ``FETCH_MAX_WAIT_MS``."""

    async def body() -> None:
        with faust_app(broker=f"kafka://{bootstrap_servers}") as app:
            made = app.consumer._thread._create_worker_consumer(app.transport)
            await made.start()
            try:
                assert made._fetcher._fetch_max_wait_ms == FETCH_MAX_WAIT_MS
            finally:
                await made.stop()

    run(body)


class _Task:
    pass


class _Stream:
    """What the monitor reads of a stream: its identity and the task that runs it."""

    task_owner = _Task()


@contract("stream_inbound_time")
def test_stream_inbound_time_is_what_the_stall_check_reads() -> None:
    """``Monitor.stream_inbound_time`` maps a partition to when a stream last took an
    event from it; Faust's stall check reads it, and a stream sets it per event."""

    async def body() -> None:
        with faust_app() as app:
            inbound = getattr(app.monitor, "stream_inbound_time", None)
            assert isinstance(inbound, dict), "the monitor has no stream_inbound_time"
            assert isinstance(app.monitor, faust_monitor.Monitor)
            app.monitor.on_stream_event_in(TP0, 3, _Stream(), None)
            assert isinstance(inbound.get(TP0), float)

    run(body)


# --- producer, stores and web ----------------------------------------------------------


@contract("_ensure_producer")
def test_ensure_producer_is_the_aiokafka_producer_or_not_ready() -> None:
    """Faust's aiokafka producer gives its started aiokafka producer by
    ``_ensure_producer()``, and raises ``NotReady`` before it starts."""
    assert_faust_method(faust_aiokafka.Producer, "_ensure_producer", ["self"], coroutine=False)

    async def body() -> None:
        with faust_app() as app:
            assert isinstance(app.producer, faust_aiokafka.Producer)
            with pytest.raises(NotReady):
                kafka_producer(app)

    run(body)


@pytest.mark.integration
def test_kafka_producer_sends_output_batches(bootstrap_servers: str) -> None:
    """Through the seam, output batches go out on the producer Faust started."""
    run_id = f"seam{uuid.uuid4().hex[:8]}"
    topic = f"{run_id}.out"

    async def body() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()
        with faust_app(broker=f"kafka://{bootstrap_servers}") as app:
            await app.producer.start()
            try:
                producer = kafka_producer(app)
                assert isinstance(producer, aiokafka.AIOKafkaProducer)
                outputs = OutputBatches()
                for number in range(3):
                    outputs.add(topic, 0, b"k", b"v%d" % number)
                deliveries = await outputs.send(producer)
                await asyncio.gather(*(delivery.future for delivery in deliveries))
                assert [delivery.last_offset() for delivery in deliveries] == [2]
            finally:
                await app.producer.stop()

    try:
        run(body)
    finally:
        run(lambda: delete_run_topics(bootstrap_servers, run_id))


@contextmanager
def rocksdb_table() -> Iterator[tuple[Any, Any]]:
    """A Faust RocksDB table of raw records in a temporary directory, and its store."""
    with faust_app(store="rocksdb://") as app:
        table = app.Table("seam", key_type=bytes, value_type=bytes, partitions=8)
        store = table.data
        assert isinstance(store, faust_rocksdb.Store)
        yield table, store
        store._dbs.clear()  # what the store does when it stops


@contract("_dbs")
def test_dbs_holds_the_open_database_of_each_partition() -> None:
    """The RocksDB store's ``_dbs`` maps a partition to its open database; the seam
    reads only those, so a partition never held is not created on disk."""
    with rocksdb_table() as (table, store):
        assert isinstance(getattr(store, "_dbs", None), MutableMapping), "no _dbs mapping"
        partitions = partition_store(table)
        partitions.put_all([(b"a", b"1", 2)])
        assert store._dbs[2].get(b"a") == b"1"
        assert partitions.get(b"a", 2) == b"1"
        assert partitions.get(b"a", 5) is None
        assert 5 not in store._dbs
        assert not store.partition_path(5).exists()
        # Faust reads what the seam wrote (with no current event it asks every database).
        assert store[b"a"] == b"1"
        # Prefix scans seek in the open database; a None value deletes.
        partitions.put_all([(b"\xffx1", b"2", 2), (b"\xffx2", b"3", 2), (b"\xffy", b"4", 2)])
        assert partitions.scan(b"\xffx", 2) == [(b"\xffx1", b"2"), (b"\xffx2", b"3")]
        partitions.put_all([(b"\xffx1", None, 2)])
        assert partitions.scan(b"\xffx", 2) == [(b"\xffx2", b"3")]
        assert partitions.scan(b"\xffx", 5) == []
        assert 5 not in store._dbs
        # Records only: not the items, which sort after them, nor Faust's offset key.
        partitions.put_all([(b"b", b"5", 3), (b"\xfez", b"6", 3)])
        store.set_persisted_offset(TP(table.changelog_topic.get_topic_name(), 3), 7)
        assert sorted(partitions.records()) == [(b"a", b"1"), (b"b", b"5")]


def test_a_shared_store_memory_is_what_the_databases_open_with() -> None:
    """A store opens each partition's database with its ``rocksdb_options``
    (``as_options``): the databases of an adopted table charge the one shared cache."""
    with rocksdb_table() as (table, store):
        memory = SharedStoreMemory(8 * 2**20)
        memory.adopt(table)
        assert memory.memory() == {"cache": 0, "memtables": 0, "table_readers": 0}
        partitions = partition_store(table)
        partitions.put_all([(b"a", b"x" * 1000, 1), (b"b", b"y" * 1000, 6)])
        held = memory.memory()
        memtables = [
            db.property_int_value("rocksdb.size-all-mem-tables") for db in store._dbs.values()
        ]
        assert len(memtables) == 2
        assert held["memtables"] == sum(memtables) > 0
        # The write buffers are charged to the shared cache, a slice of 256 KiB at a time.
        assert held["cache"] == memory.cache.get_usage() >= 256 * 1024
        for db in store._dbs.values():
            db.flush()
        assert memory.memory()["table_readers"] > 0
        assert partitions.get(b"a", 1) == b"x" * 1000


def test_a_database_reopened_after_a_restart_keeps_the_shared_store_memory() -> None:
    """The store opens a partition's database through ``rocksdb_options.open``; the
    seam's ``open`` keeps the shared cache (and the bloom filter set with it) when the
    database exists already, where rocksdict would take the options on disk instead."""
    budget = 24 * 2**20  # not RocksDB's default of 8 MiB
    with rocksdb_table() as (table, store):
        memory = SharedStoreMemory(budget)
        memory.adopt(table)
        assert_override(
            faust_rocksdb.RocksDBOptions, type(store.rocksdb_options), "open", coroutine=False
        )
        assert store.rocksdb_options.ttl is None  # Faust's default: no TTL database
        partitions = partition_store(table)
        partitions.put_all([(b"a", b"x" * 1000, 1)])
        first = store._dbs[1]
        assert first.property_int_value("rocksdb.block-cache-capacity") == budget
        first.flush()
        first.close()
        del store._dbs[1]  # as a worker's restart finds it: the database on disk
        reopened = store._db_for_partition(1)
        assert reopened is not first
        assert reopened.property_int_value("rocksdb.block-cache-capacity") == budget
        assert partitions.get(b"a", 1) == b"x" * 1000


@contract("_db_for_partition")
def test_db_for_partition_opens_the_database_faust_keeps_for_it() -> None:
    """``_db_for_partition(p)`` opens (or finds) partition ``p``'s database: the one
    Faust's own writes, reads and persisted offsets use."""
    assert_faust_method(
        faust_rocksdb.Store, "_db_for_partition", ["self", "partition"], coroutine=False
    )
    with rocksdb_table() as (table, store):
        partitions = partition_store(table)
        partitions.put_all([(b"a", b"1", 3), (b"b", b"2", 4), (b"a", b"3", 3)])
        assert store._db_for_partition(3) is store._dbs[3]
        assert store._db_for_partition(3).get(b"a") == b"3"
        assert store._db_for_partition(4).get(b"b") == b"2"
        store.set_persisted_offset(TP(table.changelog_topic.get_topic_name(), 3), 17)
        assert store.persisted_offset(TP(table.changelog_topic.get_topic_name(), 3)) == 17
        assert partitions.get(b"a", 3) == b"3"


@contract("offset_key")
def test_offset_key_is_where_faust_keeps_the_persisted_offset() -> None:
    """The RocksDB store keeps each partition's persisted offset under ``offset_key`` in
    the partition's own database: a key that is not a record, which the seam skips."""
    with rocksdb_table() as (table, store):
        offset_key = getattr(faust_rocksdb.Store, "offset_key", None)
        assert isinstance(offset_key, bytes), "no offset_key"
        store.set_persisted_offset(TP(table.changelog_topic.get_topic_name(), 1), 42)
        assert store._dbs[1].get(offset_key) == b"42", "offset_key is not where it is kept"
        assert list(partition_store(table).records()) == []


@contract("data")
def test_memory_store_data_is_the_dictionary_faust_reads() -> None:
    """Faust's memory store keeps every record in one dictionary, ``data``."""

    async def body() -> None:
        with faust_app() as app:
            table = app.Table("seam", key_type=bytes, value_type=bytes, partitions=8)
            store = table.data
            assert isinstance(store, faust_memory.Store)
            assert isinstance(getattr(store, "data", None), dict), "no data dictionary"
            partitions = partition_store(table)
            partitions.put_all([(b"a", b"1", 2), (b"b", b"2", 6)])
            assert (store[b"a"], store[b"b"]) == (b"1", b"2")
            assert partitions.get(b"b", 6) == b"2"
            partitions.put_all([(b"a", None, 2), (b"ab", b"3", 2)])
            assert b"a" not in store.data
            assert partitions.scan(b"a", 2) == [(b"ab", b"3")]
            partitions.put_all([(b"\xffab", b"4", 2)])
            assert sorted(partitions.records()) == [(b"ab", b"3"), (b"b", b"2")]
            # Items are found through the index the seam keeps in ``data``, which sees
            # what Faust's own recovery writes and deletes as well.
            assert store.data is partition_store(table).data
            agent = evidence_prefix(b"a7")
            changelog = [
                changelog_event(agent + b"\x02", b"5", 2),
                changelog_event(agent + b"\x01", b"6", 2),
                changelog_event(b"\xffab", None, 2),
            ]
            store.apply_changelog_batch(changelog, to_key=bytes, to_value=lambda value: value)
            assert partitions.scan(agent, 2) == [(agent + b"\x01", b"6"), (agent + b"\x02", b"5")]
            assert b"\xffab" not in store.data
            await store.on_recovery_completed({TP("seam-changelog", 0)}, set())
            assert partitions.scan(agent, 2) == []
            shared = SharedStoreMemory(8 * 2**20)
            shared.adopt(table)
            assert shared.memory() == {}

    run(body)


@contract("_key_partition")
def test_memory_store_drops_the_records_of_partitions_no_longer_held() -> None:
    """Faust's memory store maps each key to its partition in ``_key_partition`` and,
    when a rebalance's recovery completes, drops the keys of partitions not held: the
    seam enters the keys it writes there, so none of them stays behind."""

    async def body() -> None:
        with faust_app() as app:
            table = app.Table("seam", key_type=bytes, value_type=bytes, partitions=8)
            store = table.data
            assert isinstance(getattr(store, "_key_partition", None), dict), "no _key_partition"
            partitions = partition_store(table)
            kept, dropped = evidence_prefix(b"a6"), evidence_prefix(b"a2")
            partitions.put_all(
                [
                    (b"a6", b"1", 6),
                    (kept + b"\x01", b"2", 6),
                    (b"a2", b"3", 2),
                    (dropped + b"\x01", b"4", 2),
                    (b"gone", b"5", 6),
                ]
            )
            partitions.put_all([(b"gone", None, 6)])
            assert b"gone" not in store._key_partition, "_key_partition keeps a deleted key"
            await store.on_recovery_completed(
                {TP(table.changelog_topic.get_topic_name(), 6)}, set()
            )
            assert sorted(store.data) == [b"a6", kept + b"\x01"], (
                "_key_partition: a partition no longer held kept its records"
            )
            assert partitions.scan(dropped, 2) == []
            assert partitions.scan(kept, 6) == [(kept + b"\x01", b"2")]

    run(body)


def changelog_event(key: bytes, value: bytes | None, partition: int) -> Any:
    """What a store's ``apply_changelog_batch`` reads of a changelog event."""
    return SimpleNamespace(
        key=key, value=value, message=SimpleNamespace(value=value, partition=partition)
    )


RECOVERY_NAMES: Final = (
    "recovery",
    "tp_to_table",
    "active_tps",
    "standby_tps",
    "active_offsets",
    "standby_offsets",
    "need_recovery",
    "flush_buffers",
    "signal_recovery_end",
    "_active_events_received_at",
)
"""What ``restore_changelog`` reads and sets of Faust's recovery."""


class _Buffered:
    """A changelog event as Faust's recovery buffers it (the event is its own message)."""

    def __init__(self, tp: TP, offset: int, key: bytes, value: bytes) -> None:
        self.tp = tp
        self.partition = tp.partition
        self.offset = offset
        self.key = key
        self.value = value
        self.message = self


def changelog_record(topic: str, partition: int, offset: int, key: bytes, value: bytes) -> Any:
    """An aiokafka record of a changelog topic, as a fetch returns it."""
    return ConsumerRecord(topic, partition, offset, 1_000, 0, key, value, None, 2, 2, [])


def assert_recovery_names(app: Any) -> Any:
    """Faust's recovery service, with every name the seam uses on it."""
    recovery = getattr(app.tables, "recovery", None)
    assert isinstance(recovery, faust_recovery.Recovery), "no recovery on the table manager"
    for name in ("tp_to_table", "active_offsets", "standby_offsets", "_active_events_received_at"):
        assert isinstance(getattr(recovery, name, None), MutableMapping), f"no {name} mapping"
    for name in ("active_tps", "standby_tps"):
        assert isinstance(getattr(recovery, name, None), MutableSet), f"no {name} set"
    for name in ("need_recovery", "flush_buffers"):
        assert callable(getattr(recovery, name, None)), f"no {name} method"
    assert isinstance(getattr(recovery, "signal_recovery_end", None), asyncio.Event), (
        "no signal_recovery_end event"
    )
    return recovery


def _restore_changelog_contract() -> None:
    """Faust's recovery keeps, for each changelog partition it follows, its table
    (``tp_to_table``), whether it is active or standby (``active_tps``,
    ``standby_tps``) and the last offset applied (``active_offsets``,
    ``standby_offsets``); ``need_recovery`` is true while an active partition is behind
    its highwater; ``flush_buffers`` applies what its own loop holds; its recovery task
    waits on ``signal_recovery_end``. ``restore_changelog`` applies a fetch as that loop
    would a record at a time, the offsets Faust's store keeps included, and wakes the
    task without leaving the event set for the next recovery."""

    async def body() -> None:
        with rocksdb_table() as (table, store):
            _restore_changelog_steps(table, store)
            await _restore_changelog_wakes(table, store)

    run(body)


def _restore_changelog_steps(table: Any, store: Any) -> None:
    app = table.app
    recovery = assert_recovery_names(app)
    topic = table.changelog_topic.get_topic_name()
    active, standby, other = TP(topic, 3), TP(topic, 5), TP(topic, 6)
    recovery.add_active(table, active)
    recovery.add_standby(table, standby)
    assert recovery.tp_to_table[active] is table, "tp_to_table does not name the table"
    assert active in recovery.active_tps, "add_active does not fill active_tps"
    assert standby in recovery.standby_tps, "add_standby does not fill standby_tps"
    recovery.active_offsets[active] = recovery.standby_offsets[standby] = -1
    recovery.active_highwaters[active] = 4
    app.in_recovery = recovery.in_recovery = True
    # Faust's own loop holds an older value of b"a": it is applied first.
    recovery.buffers[table].append(_Buffered(active, 0, b"a", b"old"))
    first = [changelog_record(topic, 3, offset, b"a", b"%d" % offset) for offset in (1, 2)]
    assert restore_changelog(app, active, first)
    assert store._dbs[3].get(b"a") == b"2", "flush_buffers did not apply Faust's buffer first"
    assert recovery.active_offsets[active] == 2, "active_offsets not advanced"
    assert store.persisted_offset(active) == 2
    assert active in recovery._active_events_received_at, "_active_events_received_at"
    assert recovery.need_recovery(), "need_recovery is false with offsets to go"
    # Standbys are followed all along; a None value deletes.
    standby_records = [changelog_record(topic, 5, 0, b"b", b"1")]
    standby_records.append(ConsumerRecord(topic, 5, 1, 1_000, 0, b"c", None, None, 2, 0, []))
    assert restore_changelog(app, standby, standby_records)
    assert recovery.standby_offsets[standby] == 1, "standby_offsets not advanced"
    assert store._dbs[5].get(b"b") == b"1"
    assert store.persisted_offset(standby) == 1
    # A partition Faust's recovery does not follow is not touched.
    assert not restore_changelog(app, other, [changelog_record(topic, 6, 0, b"d", b"1")])
    assert 6 not in store._dbs


async def _restore_changelog_wakes(table: Any, store: Any) -> None:
    app = table.app
    recovery = app.tables.recovery
    topic = table.changelog_topic.get_topic_name()
    active = TP(topic, 3)
    waiting = asyncio.ensure_future(recovery.signal_recovery_end.wait())
    await asyncio.sleep(0)
    # A refetched offset is not applied again; the last one wakes the recovery task.
    rest = [changelog_record(topic, 3, offset, b"a", b"%d" % offset) for offset in (2, 3, 4)]
    rest[0] = changelog_record(topic, 3, 2, b"stale", b"2")
    assert restore_changelog(app, active, rest)
    assert store._dbs[3].get(b"a") == b"4"
    assert store._dbs[3].get(b"stale") is None, "active_offsets: an applied offset again"
    assert not recovery.need_recovery(), "need_recovery is true once caught up"
    await asyncio.wait_for(waiting, 1.0)  # woken: signal_recovery_end is what it waits on
    assert not recovery.signal_recovery_end.is_set(), "signal_recovery_end left set"
    # The task ends the recovery; an active partition's late records are then Faust's.
    app.in_recovery = False
    assert not restore_changelog(app, active, [changelog_record(topic, 3, 5, b"a", b"5")])
    assert store._dbs[3].get(b"a") == b"4"


for _name in RECOVERY_NAMES:
    contract(_name)(_restore_changelog_contract)


def test_restore_changelog_applies_a_fetch_as_faust_recovery_would() -> None:
    """See ``_restore_changelog_contract``; the memory store takes the batch as well."""
    _restore_changelog_contract()

    async def body() -> None:
        with faust_app() as app:
            table = app.Table("seam", key_type=bytes, value_type=bytes, partitions=8)
            topic = table.changelog_topic.get_topic_name()
            recovery = app.tables.recovery
            recovery.add_standby(table, TP(topic, 2))
            recovery.standby_offsets[TP(topic, 2)] = -1
            assert restore_changelog(app, TP(topic, 2), [changelog_record(topic, 2, 0, b"a", b"1")])
            assert table.data.data == {b"a": b"1"}

    run(body)


@contract("web_app")
def test_web_app_is_the_application_faust_serves() -> None:
    """Faust's aiohttp web driver serves the aiohttp application ``web_app``: a
    handler added to its router answers."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="seam")

    async def body() -> None:
        with faust_app() as app:
            assert isinstance(app.web, faust_web.Web)
            assert isinstance(getattr(app.web, "web_app", None), web.Application), "no web_app"
            web_router(app).add_get("/seam", handler)
            served = await app.web.wsgi()  # what Faust's server runs
            runner = web.AppRunner(served)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            try:
                port = runner.addresses[0][1]
                url = f"http://127.0.0.1:{port}/seam"
                async with aiohttp.ClientSession() as session, session.get(url) as answer:
                    assert (answer.status, await answer.text()) == (200, "seam")
            finally:
                await runner.cleanup()

    run(body)


# --- the whole consumer on a real broker -----------------------------------------------


async def produce_numbered(servers: str, topic: str, partitions: int, count: int) -> None:
    """``count`` records in each partition of a new ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        for number in range(count):
            for partition in range(partitions):
                await producer.send(topic, b"%d" % number, key=b"k", partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


async def committed_offsets(servers: str, group: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in found.items()}


async def fold_with_intake(servers: str, topic: str, count: int) -> tuple[Any, dict[int, int]]:
    """Run a Faust app whose intake takes ``topic`` until every record arrived; what
    the handler saw per partition, and the offsets committed afterwards."""
    seen: dict[int, list[int]] = {0: [], 1: []}
    with faust_app(
        broker=f"kafka://{servers}",
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
    ) as app:
        everything = asyncio.Event()

        async def handle(fetch: Fetch) -> None:
            for tp, records in fetch.records.items():
                seen[tp.partition].extend(record.offset for record in records)
            done = {tp: (found[0].offset, found[-1].offset) for tp, found in fetch.records.items()}
            app.consumer.ack_fetch(fetch, done)
            if all(len(offsets) >= count for offsets in seen.values()):
                everything.set()

        app.transport.intake = Intake(frozenset({topic}), handle)
        app.topics.add(app.topic(topic, key_type=bytes, value_type=bytes, partitions=2))
        await app.start()
        try:
            await asyncio.wait_for(everything.wait(), 90)
            await app.consumer.commit()
        finally:
            await app.stop()
        return seen, await committed_offsets(servers, app.conf.id)


@pytest.mark.integration
def test_intake_consumer_hands_over_fetches_and_commits_what_was_acked(
    bootstrap_servers: str,
) -> None:
    """A Faust app with the seam's consumer on the broker: every record of the intake
    topic reaches the handler once, in offset order, within whole fetches, and the
    offsets acked with ``ack_fetch`` are the ones Faust commits."""
    run_id = f"seam{uuid.uuid4().hex[:8]}"
    topic = f"{run_id}.input"
    count = 200

    async def body() -> tuple[Any, dict[int, int]]:
        await produce_numbered(bootstrap_servers, topic, 2, count)
        return await fold_with_intake(bootstrap_servers, topic, count)

    try:
        seen, committed = run(body)
    finally:
        run(lambda: delete_run_topics(bootstrap_servers, run_id))
    assert seen == {0: list(range(count)), 1: list(range(count))}
    assert committed == {0: count, 1: count}


# --- the contracts themselves ----------------------------------------------------------


def drop(monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> None:
    """Take ``name`` off ``cls`` and the library classes it inherits it from."""
    owners = [
        klass
        for klass in cls.__mro__
        if name in vars(klass) and not klass.__module__.startswith("streamstats")
    ]
    assert owners, f"{cls.__qualname__} defines no {name} to take away"
    for klass in owners:
        monkeypatch.delattr(klass, name)


def drop_when_made(
    monkeypatch: pytest.MonkeyPatch, cls: type, name: str, method: str = "__init__"
) -> None:
    """Objects of ``cls`` lose ``name`` once ``method`` has set it up (as if renamed)."""
    original = getattr(cls, method)

    @functools.wraps(original)
    def make(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__.pop(name, None)

    monkeypatch.setattr(cls, method, make)
    for klass in cls.__mro__:
        if name in vars(klass):
            monkeypatch.delattr(klass, name)


def other_ack_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust's consumer acks under a lock of its own."""
    monkeypatch.setattr(faust_consumer, "ack_lock", threading.RLock())


Breakage = Callable[[pytest.MonkeyPatch], None]

BREAKAGES: dict[str, Breakage] = {
    "_drain_messages": lambda mp: drop(mp, faust_aiokafka.Consumer, "_drain_messages"),
    "_wait_next_records": lambda mp: drop(mp, faust_aiokafka.Consumer, "_wait_next_records"),
    "_read_offset": lambda mp: drop_when_made(mp, faust_consumer.Consumer, "_read_offset"),
    "_buffered_partitions": lambda mp: drop_when_made(
        mp, faust_consumer.Consumer, "_buffered_partitions"
    ),
    "_add_gap": lambda mp: drop(mp, faust_aiokafka.Consumer, "_add_gap"),
    "_to_message": lambda mp: drop(mp, faust_aiokafka.Consumer, "_to_message"),
    "flow_active": lambda mp: drop_when_made(mp, faust_consumer.Consumer, "flow_active"),
    "callback": lambda mp: drop_when_made(mp, faust_consumer.Consumer, "callback"),
    "_stopped": lambda mp: drop_when_made(mp, mode.Service, "_stopped"),
    "_unacked_messages": lambda mp: drop_when_made(
        mp, faust_consumer.Consumer, "_unacked_messages"
    ),
    "_waiting_for_ack": lambda mp: drop_when_made(mp, faust_consumer.Consumer, "_waiting_for_ack"),
    "_committed_offset": lambda mp: drop_when_made(
        mp, faust_consumer.Consumer, "_committed_offset"
    ),
    "_acked": lambda mp: drop_when_made(mp, faust_consumer.Consumer, "_acked"),
    "_acked_index": lambda mp: drop_when_made(mp, faust_consumer.Consumer, "_acked_index"),
    "_n_acked": lambda mp: drop_when_made(mp, faust_consumer.Consumer, "_n_acked"),
    "ack_lock": other_ack_lock,
    "_new_consumer_thread": lambda mp: drop(mp, faust_aiokafka.Consumer, "_new_consumer_thread"),
    "_create_worker_consumer": lambda mp: drop(
        mp, faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer"
    ),
    "_fetch_max_wait_ms": lambda mp: drop_when_made(
        mp, aiokafka.AIOKafkaConsumer, "_fetch_max_wait_ms"
    ),
    "stream_inbound_time": lambda mp: drop_when_made(
        mp, faust_monitor.Monitor, "stream_inbound_time"
    ),
    "_ensure_producer": lambda mp: drop(mp, faust_aiokafka.Producer, "_ensure_producer"),
    "_dbs": lambda mp: drop_when_made(mp, faust_rocksdb.Store, "_dbs"),
    "_db_for_partition": lambda mp: drop(mp, faust_rocksdb.Store, "_db_for_partition"),
    "offset_key": lambda mp: drop(mp, faust_rocksdb.Store, "offset_key"),
    "data": lambda mp: drop_when_made(mp, faust_memory.Store, "data", "__post_init__"),
    "_key_partition": lambda mp: drop_when_made(
        mp, faust_memory.Store, "_key_partition", "__post_init__"
    ),
    "web_app": lambda mp: drop_when_made(mp, faust_web.Web, "web_app"),
    "recovery": lambda mp: drop(mp, faust_manager.TableManager, "recovery"),
    **{
        name: functools.partial(drop_when_made, cls=faust_recovery.Recovery, name=name)
        for name in (
            "tp_to_table",
            "active_tps",
            "standby_tps",
            "active_offsets",
            "standby_offsets",
            "_active_events_received_at",
        )
    },
    **{
        name: functools.partial(drop, cls=faust_recovery.Recovery, name=name)
        for name in ("need_recovery", "flush_buffers", "signal_recovery_end")
    },
}
"""How an upgrade could take each internal away, for the meta-test."""


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_contract_catches_a_missing_name(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the internal taken away, its contract test fails, at the check of it."""
    BREAKAGES[name](monkeypatch)
    with pytest.raises(AssertionError) as failed:
        CONTRACTS[name]()
    assert name in str(failed.value), f"failed elsewhere than at {name}: {failed.value}"


def decisions_table_names() -> list[str]:
    """The names in the first column of docs/decisions.md's table of internals."""
    text = (ROOT / "docs" / "decisions.md").read_text()
    heading = "Faust and aiokafka internals (runtime/seam.py)"
    assert heading in text, f"docs/decisions.md has no table {heading!r}"
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([A-Za-z_.]+)`", section, flags=re.MULTILINE)


def test_every_internal_has_a_contract_a_breakage_and_a_row() -> None:
    """The decisions table, the contracts and the meta-test name the same internals."""
    rows = [name.rsplit(".", 1)[-1] for name in decisions_table_names()]
    assert len(rows) == len(set(rows)), "a name has two rows"
    assert sorted(rows) == sorted(CONTRACTS) == sorted(BREAKAGES)


SEAM_ONLY = re.compile(
    r"\.(?:"
    + "|".join(re.escape(name) for name in sorted(CONTRACTS) if name.startswith("_"))
    + r"|ack_lock|stream_inbound_time|web_app|flow_active|tables\.recovery|tp_to_table"
    + r"|active_tps|standby_tps|active_offsets|standby_offsets|need_recovery|flush_buffers"
    + r"|signal_recovery_end)\b"
    + r"|super\(\)\._(?!_)|faust\.types\.tuples|faust\.transport|faust\.stores|faust\.web"
)


def test_no_module_but_the_seam_touches_the_internals() -> None:
    """Outside ``runtime/seam.py`` no module of the package uses the internals (nor
    imports the Faust modules they live in)."""
    package = ROOT / "src" / "streamstats"
    seam_path = package / "runtime" / "seam.py"
    assert SEAM_ONLY.search(seam_path.read_text()), "the pattern finds nothing in the seam"
    for path in sorted(package.rglob("*.py")):
        if path != seam_path:
            found = SEAM_ONLY.search(path.read_text())
            assert found is None, f"{path.relative_to(ROOT)} uses {found.group(0)}"


def test_the_seams_own_names_are_not_faust_names() -> None:
    """What the seam adds to Faust's classes does not shadow anything of theirs."""
    for faust_class, ours, names in (
        (faust_aiokafka.Consumer, IntakeConsumer, ["_admit", "ack_fetch"]),
        (faust_aiokafka.Transport, IntakeTransport, ["intake", "Consumer"]),
    ):
        for name in names:
            assert name in vars(ours)
            assert name == "Consumer" or not hasattr(faust_class, name), name
    assert faust_aiokafka.Transport.Consumer is faust_aiokafka.Consumer


def declared(owner: type, name: str) -> bool:
    """Whether ``owner`` (an interface) declares ``name``, as a member or annotation."""
    return any(
        name in vars(klass) or name in getattr(klass, "__annotations__", {})
        for klass in owner.__mro__
    )


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (AppT, "consumer_generation_id"),
        (AppT, "rebalancing_count"),
        (AppT, "rebalancing"),
        (AppT, "in_recovery"),
        (AppT, "transport"),
        (AppT, "assignor"),
        (AppT, "monitor"),
        (PartitionAssignorT, "assigned_actives"),
        (RouterT, "table_metadata"),
        (TableManagerT, "actives_ready"),
        (StoreT, "set_persisted_offset"),
        (ConductorT, "acks_enabled_for"),
        (ConsumerT, "highwater"),
        (ConsumerT, "stop_flow"),
        (TransportT, "create_consumer"),
        (faust_monitor.Monitor, "track_tp_end_offset"),
        (Collection, "data"),
        (CollectionT, "apply_changelog_batch"),
        (faust_rocksdb.Store, "rocksdb_options"),
        (faust_rocksdb.RocksDBOptions, "as_options"),
        (faust_rocksdb.RocksDBOptions, "bloom_filter_size"),
        (faust_rocksdb.RocksDBOptions, "use_rocksdict"),
        (faust_rocksdb.RocksDBOptions, "open"),
        (ServiceT, "crash_reason"),
        (faust_aiokafka.Consumer, "consumer_stopped_errors"),
        (aiokafka.AIOKafkaProducer, "create_batch"),
        (aiokafka.AIOKafkaProducer, "send_batch"),
    ],
)
def test_names_used_as_public_are_declared_public(owner: type, name: str) -> None:
    """The unprefixed Faust and aiokafka names used outside the seam (or inside it as
    public API) are declared on Faust's interfaces or documented on their class."""
    assert declared(owner, name), f"{owner.__qualname__} no longer declares {name}"


def test_changelog_topics_are_the_ones_faust_declares_for_the_tables() -> None:
    """``kafka.ensure_topics`` makes the changelog topics before Faust starts, under the
    names and with the configuration Faust would give them."""
    settings = Settings(auth="off", app_id=f"contract{uuid.uuid4().hex[:8]}")
    parts = define(settings)
    topics = [table.changelog_topic for table in (parts.chats, parts.agents)]
    assert [topic.get_topic_name() for topic in topics] == changelog_topics(settings)
    for topic in topics:
        # What Faust's create_topic turns into cleanup.policy=compact and nothing else.
        assert (topic.compacting, topic.deleting, topic.retention) == (True, None, None)
        assert not topic.config
        assert topic.partitions == settings.partitions
