"""kafka-python workloads for testdata/captures (scripts/make-captures.sh).

usage: kafka_python_workload.py BOOTSTRAP {produce-consume,sasl,sasl-wrong}

produce-consume: a gzip producer, then a KafkaConsumer in group
"analytics" that commits after each poll. The topic "clicks" must exist:
kafka-python asks for Metadata v1, for which kfake does not create topics.
sasl: SASL/PLAIN as user alice, password from $KSCOPE_SASL_PASSWORD.
kafka-python 2.0.2 always uses SaslHandshake v0 and sends the PLAIN token
bare, outside Kafka framing. sasl-wrong: the same with a wrong password.
"""
import os
import sys
import time

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

RECORDS = 200


def sasl_config(password):
    return dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                sasl_plain_username="alice", sasl_plain_password=password)


def produce(bootstrap, topic, extra):
    p = KafkaProducer(bootstrap_servers=bootstrap, client_id="kafka-python-producer",
                      compression_type="gzip", linger_ms=20, acks="all", **extra)
    for i in range(RECORDS):
        p.send(topic, key=b"user-%d" % (i % 9), value=b'{"click":%d,"pad":"%s"}' % (i, b"z" * 40))
    p.flush()
    p.close()


def consume(bootstrap, topic, group, extra):
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, client_id="kafka-python-consumer",
                      group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, **extra)
    seen, deadline = 0, time.time() + 30
    while seen < RECORDS:
        if time.time() > deadline:
            sys.exit("kafka-python: consumed %d of %d" % (seen, RECORDS))
        batch = c.poll(timeout_ms=500)
        n = sum(len(rs) for rs in batch.values())
        if n:
            seen += n
            c.commit()
    c.close()


def main():
    bootstrap, mode = sys.argv[1], sys.argv[2]
    if mode == "produce-consume":
        produce(bootstrap, "clicks", {})
        consume(bootstrap, "clicks", "analytics", {})
    elif mode == "sasl":
        extra = sasl_config(os.environ["KSCOPE_SASL_PASSWORD"])
        produce(bootstrap, "secure", extra)
        consume(bootstrap, "secure", "kafka-python-secure", extra)
    elif mode == "sasl-wrong":
        try:
            KafkaProducer(bootstrap_servers=bootstrap, client_id="kafka-python-intruder",
                          **sasl_config("not-the-password"))
        except KafkaError:
            return
        sys.exit("kafka-python: a wrong password logged in")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
