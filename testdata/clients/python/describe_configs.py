"""Reads a topic's retention with kafka-python's admin client, for
kscope's retention tests: a client independent of franz-go.

usage: describe_configs.py BOOTSTRAP TOPIC

Prints one JSON object: {"retention.ms": {"value": "...", "source": N},
"retention.bytes": {...}}, source being the DescribeConfigs ConfigSource
(1 DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG, ...), with synonyms asked for
(DescribeConfigs v1+).
"""
import json
import sys

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

KEYS = ["retention.ms", "retention.bytes"]


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="retention-check")
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={k: None for k in KEYS})
    out = {}
    for resp in admin.describe_configs([resource], include_synonyms=True):
        for error_code, error_message, _type, name, entries in resp.resources:
            if error_code != 0:
                sys.exit("describe_configs %s: error %d %s" % (name, error_code, error_message))
            for entry in entries:
                # v1+: name, value, read_only, source, is_sensitive, synonyms
                out[entry[0]] = {"value": entry[1], "source": entry[3]}
    admin.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
