"""Long-running clients for kscope's lag tests.

usage: lag_clients.py BOOTSTRAP produce TOPIC RATE
       lag_clients.py BOOTSTRAP consume TOPIC GROUP MAX_POLL_RECORDS SLEEP_PER_RECORD
       lag_clients.py BOOTSTRAP confluent-consume TOPIC GROUP SLEEP_PER_RECORD
       lag_clients.py BOOTSTRAP offsets GROUP TOPIC

produce: kafka-python, RATE records a second until killed.
consume: a kafka-python consumer in GROUP that sleeps SLEEP_PER_RECORD
seconds per record and commits after each poll (a slow consumer that, with
records buffered, does not fetch).
confluent-consume: the same with confluent-kafka (librdkafka), committing
each record.
offsets: prints, as JSON, GROUP's committed offsets on TOPIC as
kafka-python's KafkaAdminClient lists them, and the end offsets a
KafkaConsumer reads: {"committed": {"0": 12}, "end": {"0": 40}}.

Each prints "ready" once connected, so that a test knows when it started.
"""
import json
import sys
import time


def produce(bootstrap, topic, rate):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, client_id="lag-producer", linger_ms=5)
    print("ready", flush=True)
    i, start = 0, time.time()
    while True:
        p.send(topic, value=b'{"order":%d}' % i)
        i += 1
        wait = start + i / rate - time.time()
        if wait > 0:
            time.sleep(wait)


def consume(bootstrap, topic, group, max_poll, per_record):
    from kafka import KafkaConsumer
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, client_id="lag-" + group, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=max_poll)
    print("ready", flush=True)
    while True:
        batch = c.poll(timeout_ms=500)
        for records in batch.values():
            for _ in records:
                time.sleep(per_record)
        if batch:
            c.commit()


def confluent_consume(bootstrap, topic, group, per_record):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "lag-" + group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    print("ready", flush=True)
    while True:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        time.sleep(per_record)
        c.commit(message=m, asynchronous=False)


def offsets(bootstrap, group, topic):
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lag-check")
    committed = {str(tp.partition): om.offset for tp, om in admin.list_consumer_group_offsets(group).items() if tp.topic == topic}
    c = KafkaConsumer(bootstrap_servers=bootstrap, client_id="lag-check")
    tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic)]
    end = {str(tp.partition): o for tp, o in c.end_offsets(tps).items()}
    print(json.dumps({"committed": committed, "end": end}), flush=True)


if __name__ == "__main__":
    bootstrap, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "produce":
        produce(bootstrap, args[0], float(args[1]))
    elif cmd == "consume":
        consume(bootstrap, args[0], args[1], int(args[2]), float(args[3]))
    elif cmd == "confluent-consume":
        confluent_consume(bootstrap, args[0], args[1], float(args[2]))
    elif cmd == "offsets":
        offsets(bootstrap, args[0], args[1])
    else:
        sys.exit("unknown command " + cmd)
