#!/usr/bin/env bash
# Compares `kscope analyze` with tshark's Kafka dissector on one large
# capture of real traffic: franz-go producing and consuming ~300 MB of
# 16 KiB batches against `kscope broker`, captured by tcpdump on loopback.
# Needs root (tcpdump), tshark and tcpdump. Prints sizes, times and ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=${BYTES:-300000000}
port=${PORT:-19192}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

go build -o "$dir/kscope" ./cmd/kscope
"$dir/kscope" broker --brokers 1 --port "$port" --topic bench >"$dir/broker.log" 2>&1 &
sleep 1
tcpdump -i lo -s 0 -B 65536 -w "$dir/big.pcap" "tcp port $port" 2>"$dir/tcpdump.log" &
sleep 1
"$dir/kscope" bench traffic --bootstrap "127.0.0.1:$port" --topic bench --bytes "$bytes" --consume
sleep 1
kill -INT %2 && wait %2 || true
grep -E 'dropped|captured' "$dir/tcpdump.log" || true
size=$(stat -c %s "$dir/big.pcap")
echo "capture: $((size / 1000000)) MB"

t0=$(date +%s.%N)
"$dir/kscope" analyze "$dir/big.pcap" >"$dir/kscope.out"
t1=$(date +%s.%N)
tail -3 "$dir/kscope.out"
t2=$(date +%s.%N)
"$dir/kscope" analyze -o jsonl "$dir/big.pcap" >"$dir/kscope.jsonl" 2>/dev/null
t3=$(date +%s.%N)
tshark -r "$dir/big.pcap" -d "tcp.port==$port,kafka" -T fields \
  -e frame.number -e kafka.request_key -e kafka.correlation_id -e kafka.topic_name -e kafka.partition_id \
  -Y kafka >"$dir/tshark.out" 2>/dev/null
t4=$(date +%s.%N)

python3 - "$size" "$t0" "$t1" "$t2" "$t3" "$t4" <<'PY'
import sys
size, t0, t1, t2, t3, t4 = map(float, sys.argv[1:])
k, kj, ts = t1 - t0, t3 - t2, t4 - t3
print(f"kscope analyze (table): {k:.2f}s  {size/k/1e6:.0f} MB/s")
print(f"kscope analyze -o jsonl: {kj:.2f}s  {size/kj/1e6:.0f} MB/s")
print(f"tshark -Y kafka -T fields: {ts:.2f}s  {size/ts/1e6:.1f} MB/s")
print(f"kscope is {ts/k:.0f}x faster (table), {ts/kj:.0f}x (jsonl)")
PY
