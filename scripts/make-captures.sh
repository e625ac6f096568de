#!/usr/bin/env bash
# Regenerates testdata/captures/*.pcap: real Kafka clients talking to
# `kscope broker` on the loopback, recorded with tcpdump. Run as root from
# anywhere; each run starts from scratch and replaces the captures.
#
# Needs: go, tcpdump, tshark (to check the result), kcat, node+npm, and
# Debian's python3-kafka and python3-confluent-kafka for /usr/bin/python3:
#   apt-get install tcpdump tshark kcat nodejs npm python3-kafka python3-confluent-kafka
#
#   scripts/make-captures.sh            # all captures
#   scripts/make-captures.sh kcat acks0 # some of them
#
# Set KSCOPE=/path/to/kscope to use a kscope binary instead of building one.
# See testdata/captures/README.md for what each capture holds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/testdata/captures
clients=$root/testdata/clients
work=$(mktemp -d /tmp/kscope-captures.XXXXXX)
python=/usr/bin/python3 # Debian's, which has python3-kafka and python3-confluent-kafka
password=kscope-secret-pw-7741
broker_pid= tcpdump_pid=

cleanup() {
	[[ -n $tcpdump_pid ]] && kill -INT "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null
	[[ -n $broker_pid ]] && kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'make-captures: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root: tcpdump needs it"
for tool in go tcpdump tshark kcat node npm; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
"$python" -c 'import kafka, confluent_kafka' 2>/dev/null ||
	die "$python lacks kafka-python or confluent-kafka: apt-get install python3-kafka python3-confluent-kafka"

# wait_for FILE PATTERN: wait up to 10 s for PATTERN to appear in FILE.
wait_for() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	die "timed out waiting for '$2' in $1: $(cat "$1" 2>/dev/null)"
}

# start_broker PORT BROKERS [kscope broker flags...]: sets $bootstrap.
start_broker() {
	local port=$1 n=$2
	shift 2
	rm -f "$work/broker.out" # wait_for must not read the last broker's line
	"$kscope" broker --port "$port" --brokers "$n" "$@" >"$work/broker.out" 2>"$work/broker.err" &
	broker_pid=$!
	wait_for "$work/broker.out" 127.0.0.1
	bootstrap=$(head -1 "$work/broker.out")
}

stop_broker() {
	kill -TERM "$broker_pid"
	wait "$broker_pid" || die "kscope broker failed: $(cat "$work/broker.err")"
	broker_pid=
}

# start_capture NAME PORT BROKERS: record the brokers' ports into NAME.pcap.
start_capture() {
	local name=$1 first=$2 last=$(($2 + $3 - 1))
	capture=$out/$name.pcap
	rm -f "$capture"
	# --immediate-mode -U: hand over and write each packet as it comes
	# (else the last second of packets is still in the ring buffer when
	# tcpdump stops, and is lost); -B: a buffer big enough that the kernel
	# drops nothing; -Z root: keep writing as root, not as user tcpdump.
	rm -f "$work/tcpdump.err"
	tcpdump -i lo -s 0 --immediate-mode -U -B 65536 -Z root -w "$work/$name.pcap" "tcp portrange $first-$last" 2>"$work/tcpdump.err" &
	tcpdump_pid=$!
	wait_for "$work/tcpdump.err" "listening on"
	capture_ports=$first-$last
}

stop_capture() {
	sleep 0.5 # let the last segments and FINs through
	kill -INT "$tcpdump_pid"
	wait "$tcpdump_pid" || true
	tcpdump_pid=
	grep -q "^0 packets dropped by kernel" "$work/tcpdump.err" ||
		die "tcpdump lost packets, run again: $(tail -3 "$work/tcpdump.err")"
	mv "$work/$(basename "$capture")" "$capture"
	check_capture "$capture" "$capture_ports"
}

# check_capture FILE PORTS: Wireshark must decode Kafka in it; print the
# APIs it saw.
check_capture() {
	local apis
	apis=$(tshark -r "$1" -d "tcp.port==$2,kafka" -Y 'kafka.request_key' -T fields -e kafka.request_key 2>/dev/null |
		tr ',' '\n' | sort -n | uniq -c | awk '{printf "%s:%s ", $2, $1}')
	[[ -n $apis ]] || die "tshark decodes no Kafka in $1"
	log "$(basename "$1"): $(du -h "$1" | cut -f1), request keys (key:count) $apis"
}

build() {
	if [[ -n ${KSCOPE:-} ]]; then
		kscope=$KSCOPE
	else
		log "building kscope"
		(cd "$root" && go build -o "$work/kscope" ./cmd/kscope)
		kscope=$work/kscope
	fi
	log "building the franz-go client"
	(cd "$clients/franzgo" && go build -o "$work/franzgo" .)
	log "installing kafkajs"
	(cd "$clients/kafkajs" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

franzgo() { "$work/franzgo" -brokers "$bootstrap" "$@"; }

# franz-go producers (zstd with three topics per request, lz4), a group that
# a second member joins and leaves, commits, and kadm admin requests.
capture_franz_go() {
	start_broker 19092 3
	start_capture franz-go 19092 3
	franzgo -workload full -records 100
	stop_capture
	stop_broker
}

# kcat: metadata, gzip and snappy producers, two balanced consumers.
capture_kcat() {
	start_broker 19095 1 --topic events
	start_capture kcat 19095 1
	kcat -b "$bootstrap" -L >/dev/null
	seq 1 150 | sed 's/^/event-/' | kcat -b "$bootstrap" -P -t events -z gzip -X linger.ms=20
	local k=(-b "$bootstrap" -X client.id=kcat-consumer -X auto.offset.reset=earliest -X auto.commit.interval.ms=1000 -q -G kcat-group events)
	kcat "${k[@]}" >"$work/kcat-1.out" &
	local c1=$!
	sleep 4
	kcat "${k[@]}" >"$work/kcat-2.out" &
	local c2=$!
	sleep 4
	seq 151 300 | sed 's/^/event-/' | kcat -b "$bootstrap" -P -t events -z snappy -X linger.ms=20
	sleep 3
	kill -INT "$c2" "$c1"
	wait "$c2" "$c1" || true
	local n
	n=$(cat "$work"/kcat-[12].out | sort -u | wc -l)
	((n == 300)) || die "kcat consumers saw $n distinct records, want 300"
	stop_capture
	stop_broker
}

# kafka-python: gzip producer, group consumer with commits.
capture_kafka_python() {
	start_broker 19096 1 --topic clicks # kafka-python's Metadata v1 creates no topic
	start_capture kafka-python 19096 1
	"$python" "$clients/python/kafka_python_workload.py" "$bootstrap" produce-consume
	stop_capture
	stop_broker
}

# confluent-kafka-python: zstd producer on two topics, group consumer.
capture_confluent_kafka() {
	start_broker 19097 1
	start_capture confluent-kafka 19097 1
	"$python" "$clients/python/confluent_workload.py" "$bootstrap"
	stop_capture
	stop_broker
}

# kafkajs: admin create, gzip sendBatch over two topics, two group members.
capture_kafkajs() {
	start_broker 19098 1
	start_capture kafkajs 19098 1
	KAFKAJS_NO_PARTITIONER_WARNING=1 node "$clients/kafkajs/workload.js" "$bootstrap"
	stop_capture
	stop_broker
}

# acks=0: Produce requests that get no response, from kcat and franz-go.
capture_acks0() {
	start_broker 19099 1
	start_capture acks0 19099 1
	seq 1 100 | sed 's/^/fire-/' | kcat -b "$bootstrap" -P -t fire-and-forget -X acks=0 -X linger.ms=5 -X client.id=kcat-acks0
	franzgo -workload acks0 -records 100
	stop_capture
	stop_broker
}

# SASL/PLAIN: franz-go and kcat (SaslHandshake v1 + SaslAuthenticate),
# kafka-python (SaslHandshake v0 and a bare token), one failed login.
capture_sasl_plain() {
	export KSCOPE_SASL_PASSWORD=$password
	start_broker 19100 1 --sasl-user alice --topic secure
	start_capture sasl-plain 19100 1
	franzgo -workload sasl -sasl-user alice -records 50
	local auth=(-b "$bootstrap" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=alice -X "sasl.password=$password")
	seq 1 50 | sed 's/^/secret-/' | kcat "${auth[@]}" -P -t secure -X client.id=kcat-sasl
	kcat "${auth[@]}" -C -t secure -e -q -X client.id=kcat-sasl >/dev/null
	"$python" "$clients/python/kafka_python_workload.py" "$bootstrap" sasl
	"$python" "$clients/python/kafka_python_workload.py" "$bootstrap" sasl-wrong 2>/dev/null
	stop_capture
	stop_broker
	unset KSCOPE_SASL_PASSWORD
}

# Fetch v13+ names topics by id; the Metadata responses map ids to names.
capture_topic_ids() {
	start_broker 19101 1
	start_capture topic-ids 19101 1
	franzgo -workload topicids -records 100
	stop_capture
	stop_broker
}

# Transactions: 5 of 40 records, the 3rd aborted; read_committed and
# read_uncommitted consumers; a transaction left open past its timeout.
capture_transactions() {
	start_broker 19110 1
	start_capture transactions 19110 1
	franzgo -workload transactions -records 40
	stop_capture
	stop_broker
}

# KIP-848: three franz-go members of one group on the consumer protocol
# (ConsumerGroupHeartbeat, 1 s heartbeats) join at 0, 3 and 6 s; the
# second leaves at 10 s.
capture_kip848() {
	start_broker 19111 1 --config group.consumer.heartbeat.interval.ms=1000
	start_capture kip848 19111 1
	franzgo -workload kip848 -records 100
	stop_capture
	stop_broker
}

all=(franz_go kcat kafka_python confluent_kafka kafkajs acks0 sasl_plain topic_ids transactions kip848)
wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=("${all[@]}")
mkdir -p "$out"
build
for name in "${wanted[@]}"; do
	name=${name//-/_}
	declare -F "capture_$name" >/dev/null || die "no capture named $name (have: ${all[*]})"
	log "capture $name"
	"capture_$name"
done
du -ch "$out"/*.pcap | tail -1 >&2
