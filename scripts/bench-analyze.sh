#!/usr/bin/env bash
# Compares `kscope analyze` with tshark's Kafka dissector on two captures of
# real traffic against `kscope broker`, captured by tcpdump on loopback:
#   clean: franz-go producing and consuming BYTES (300 MB) of 16 KiB batches,
#          every connection captured from its first byte;
#   mid:   four such clients at once (MID_BYTES each), of which only packets
#          from the middle are kept (about MID_MB MB): each connection is
#          joined mid-stream, and the decoder must find frame boundaries by
#          scanning (issue 14).
# Each capture is decoded RUNS times by `kscope analyze -o jsonl` and by
# `tshark -Y kafka -T fields`, alternately, so that both see the same load
# (the machine is shared); it prints the medians in MB/s of capture, their
# range, and the ratio; and, from a capture of no packets decoded the same
# way, what starting each program takes and the MB/s without it. Needs
# root (tcpdump), tshark, tcpdump and editcap.
# KEEP=DIR keeps the two captures there; CAPTURES=DIR decodes those kept
# instead of capturing anew (to compare builds on the same captures: each
# new capture cuts the streams elsewhere, and the ratio moves with the
# cut); KSCOPE=BIN decodes with that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=${BYTES:-300000000}
mid_bytes=${MID_BYTES:-40000000}
mid_mb=${MID_MB:-15}
runs=${RUNS:-5}
port=${PORT:-19192}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

CGO_ENABLED=0 go build -o "$dir/kscope" ./cmd/kscope
k=${KSCOPE:-$dir/kscope}
if [ -n "${CAPTURES:-}" ]; then
  cp "$CAPTURES/clean.pcap" "$CAPTURES/mid.pcap" "$dir/"
else
"$dir/kscope" broker --brokers 1 --port "$port" --topic bench >"$dir/broker.log" 2>&1 &
sleep 1

# capture NAME CMD...: runs CMD under tcpdump into $dir/NAME.pcap.
capture() {
  local name=$1
  shift
  tcpdump -i lo -s 0 -B 65536 -w "$dir/$name.pcap" "tcp port $port" 2>"$dir/$name.tcpdump.log" &
  local pid=$!
  sleep 1
  "$@"
  sleep 1
  kill -INT "$pid" && wait "$pid" || true
  grep -E 'dropped' "$dir/$name.tcpdump.log" || true
}

capture clean "$dir/kscope" bench traffic --bootstrap "127.0.0.1:$port" --topic bench --bytes "$bytes" --consume

many() {
  local pids=()
  for i in 1 2 3 4; do
    "$dir/kscope" bench traffic --bootstrap "127.0.0.1:$port" --topic "mid$i" --bytes "$mid_bytes" --consume >"$dir/mid$i.log" &
    pids+=($!)
    sleep 0.15
  done
  wait "${pids[@]}"
}
capture all many
# Keep about mid_mb MB of packets from the middle of the capture.
size=$(stat -c %s "$dir/all.pcap")
packets=$(capinfos -c -M "$dir/all.pcap" | awk '/Number of packets/ {print $NF}')
keep=$((packets * mid_mb * 1000000 / size))
first=$(((packets - keep) / 2))
editcap -r "$dir/all.pcap" "$dir/mid.pcap" "$first-$((first + keep))"
rm "$dir/all.pcap"
fi
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP" && cp "$dir/clean.pcap" "$dir/mid.pcap" "$KEEP/"
fi

# A capture of no packets: what starting each program costs, timed the
# same way (on a VM whose page faults are slow, kscope's start is tens
# of ms, a large part of a 15 MB capture's time).
python3 -c 'import struct, sys; open(sys.argv[1], "wb").write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))' "$dir/empty.pcap"
times="$dir/times"
# Timed with bash's clock, not date: forking date took 7-9 ms on the VM of
# these runs, counted in the program timed before it (a tenth of kscope's
# time on the mid capture). LC_NUMERIC: its decimal point is a dot.
LC_NUMERIC=C
for name in clean mid; do
  echo "== $name: $(($(stat -c %s "$dir/$name.pcap") / 1000000)) MB"
  "$k" analyze "$dir/$name.pcap" | tail -3
done
for run in $(seq "$runs"); do
  for name in clean mid empty; do
    t0=$EPOCHREALTIME
    "$k" analyze -o jsonl "$dir/$name.pcap" >/dev/null 2>&1
    t1=$EPOCHREALTIME
    tshark -r "$dir/$name.pcap" -d "tcp.port==$port,kafka" -T fields \
      -e frame.number -e kafka.request_key -e kafka.correlation_id -e kafka.topic_name -e kafka.partition_id \
      -Y kafka >/dev/null 2>&1
    t2=$EPOCHREALTIME
    echo "$name $(stat -c %s "$dir/$name.pcap") $t0 $t1 $t2" >>"$times"
  done
done

python3 - "$times" <<'PY'
import statistics, sys
runs = {}
start = {"kscope": [], "tshark": []}
for line in open(sys.argv[1]):
    name, size, t0, t1, t2 = line.split()
    size, t0, t1, t2 = int(size), float(t0), float(t1), float(t2)
    if name == "empty":
        start["kscope"].append(t1 - t0)
        start["tshark"].append(t2 - t1)
        continue
    r = runs.setdefault(name, {"size": size, "kscope": [], "tshark": [], "ratio": []})
    r["kscope"].append(size / (t1 - t0) / 1e6)
    r["tshark"].append(size / (t2 - t1) / 1e6)
    r["ratio"].append((t2 - t1) / (t1 - t0))
    r.setdefault("times", []).append((size, t1 - t0, t2 - t1))
s0 = {tool: statistics.median(v) for tool, v in start.items()}
print(f"starting, a capture of no packets (median of {len(start['kscope'])}): kscope {s0['kscope'] * 1e3:.0f} ms, tshark {s0['tshark'] * 1e3:.0f} ms")
for name, r in runs.items():
    print(f"{name} ({r['size'] / 1e6:.0f} MB, {len(r['ratio'])} alternating runs; median [min-max]):")
    for tool in ("kscope", "tshark"):
        v = r[tool]
        print(f"  {tool + ' MB/s':12} {statistics.median(v):7.1f}  [{min(v):.1f}-{max(v):.1f}]")
    v = r["ratio"]
    print(f"  kscope is {statistics.median(v):.1f}x faster than tshark  [{min(v):.1f}-{max(v):.1f}]")
    # The same without each program's median start.
    k = [size / max(tk - s0["kscope"], 1e-6) / 1e6 for size, tk, _ in r["times"]]
    t = [size / max(tt - s0["tshark"], 1e-6) / 1e6 for size, _, tt in r["times"]]
    print(f"  without the start: kscope {statistics.median(k):.1f} MB/s, tshark {statistics.median(t):.1f} MB/s")
PY
