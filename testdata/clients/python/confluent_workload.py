"""confluent-kafka-python (librdkafka) workload for
testdata/captures/confluent-kafka.pcap (scripts/make-captures.sh).

usage: confluent_workload.py BOOTSTRAP

A zstd producer writing two topics, then a consumer in group "billing"
that commits synchronously after each message batch.
"""
import sys
import time

from confluent_kafka import Consumer, Producer

RECORDS = 150
TOPICS = ["invoices", "refunds"]


def main():
    bootstrap = sys.argv[1]
    p = Producer({"bootstrap.servers": bootstrap, "client.id": "confluent-producer",
                  "compression.type": "zstd", "linger.ms": 20, "acks": "all"})
    for i in range(RECORDS):
        for t in TOPICS:
            p.produce(t, key=b"acct-%d" % (i % 11), value=b'{"amount":%d,"pad":"%s"}' % (i, b"q" * 40))
        p.poll(0)
    if p.flush(10) != 0:
        sys.exit("confluent-kafka: records left undelivered")

    c = Consumer({"bootstrap.servers": bootstrap, "client.id": "confluent-consumer",
                  "group.id": "billing", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(TOPICS)
    seen, deadline = 0, time.time() + 40
    while seen < RECORDS * len(TOPICS):
        if time.time() > deadline:
            sys.exit("confluent-kafka: consumed %d of %d" % (seen, RECORDS * len(TOPICS)))
        msgs = c.consume(num_messages=100, timeout=0.5)
        msgs = [m for m in msgs if m.error() is None]
        if msgs:
            seen += len(msgs)
            c.commit(asynchronous=False)
    c.close()


if __name__ == "__main__":
    main()
