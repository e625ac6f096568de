#!/usr/bin/env bash
# Measures what kscope agent keeps and what it costs at rates the embedded
# broker cannot serve: kscope bench wire replays Kafka exchanges between a
# client and a server process of its own, at RATES exchanges/s for DURATION
# each, with a fresh agent tracing them each time. For each rate: exchanges
# sent, exchanges the agent decoded (/api/v1/stats decoder counters), the
# loss, the agent's CPU and µs per exchange, ring drops.
#
# TRACE says which pids the agent traces (--pid):
#   client (default)  only the client: each exchange is seen once
#   server            only the server: each exchange is seen once
#   both              both ends: each exchange is decoded twice, once from
#                     each side; the store counts the broker-side copy once
#                     (kscope_store_twins_dropped_total), the decoder twice.
# SWEEP=1 adds a batch-size sweep at SWEEP_RATE over BATCHES (bytes):
# agent µs per exchange, ring bytes per exchange
# (kscope_capture_ring_bytes_total delta / exchanges) and record bytes
# skipped per exchange.
# PER_WRITE (default 1) is the most requests the client, and responses the
# server, put in one writev: 1 writes each alone, as franz-go and brokers
# do; more cuts the generator's system calls, so that it can reach 50,000
# and 100,000 exchanges/s on a small machine (the decoder reads several
# frames of one write as it reads one).
# Needs root. Other knobs: CONNS, INFLIGHT, MIX, BATCH (bytes, rates part),
# PARTITIONS, AGENT_FLAGS, KSCOPE (a kscope binary to use instead of
# building one).
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${RATES:-20000 50000 100000}
duration=${DURATION:-10s}
trace=${TRACE:-client}
conns=${CONNS:-4}
inflight=${INFLIGHT:-5}
mix=${MIX:-produce=0.5,fetch=0.3,metadata=0.1,heartbeat=0.1}
batch=${BATCH:-100}
partitions=${PARTITIONS:-1}
per_write=${PER_WRITE:-1}
sweep=${SWEEP:-0}
sweep_rate=${SWEEP_RATE:-20000}
batches=${BATCHES:-100 1024 16384}
AGENT_FLAGS=${AGENT_FLAGS:-}
api=127.0.0.1:${API_PORT:-17379}
case $trace in client | server | both) ;; *) echo "TRACE is client, server or both" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "needs root (the agent traces with eBPF): run with sudo" >&2; exit 1; }

dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] && cp "$dir/agent.log" "$KEEP"; rm -rf "$dir"' EXIT
. scripts/lib.sh
k=$(kscope_binary "$dir")

stats() { curl -sf "http://$api/api/v1/stats"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# busy_ticks: the machine's busy CPU ticks, all cores (others' work too).
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
decoded() { stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent"]["decoder"]["exchanges"])'; }

# measure NAME RATE BATCH: one run under a fresh agent; appends a line of
# JSON to $dir/rows.
measure() {
  local name=$1 rate=$2 batch=$3
  local shape=(--batch-bytes "$batch" --partitions-per-request "$partitions" --per-write "$per_write")
  # The server, a process of its own with a known pid.
  "$k" bench wire serve --listen 127.0.0.1:0 "${shape[@]}" >"$dir/serve.out" 2>&1 &
  local serve_pid=$!
  for _ in $(seq 50); do grep -q '^listening on' "$dir/serve.out" && break; sleep 0.1; done
  local addr; addr=$(sed -n 's/^listening on //p' "$dir/serve.out")
  [ -n "$addr" ] || { echo "bench server did not start:"; cat "$dir/serve.out"; exit 1; }
  # The client waits at a gate so that its pid is known before the agent
  # starts (exec keeps the pid).
  rm -f "$dir/gate"; mkfifo "$dir/gate"
  sh -c 'read _ <"$0"; exec "$@"' "$dir/gate" "$k" bench wire run --server "$addr" --rate "$rate" \
    --duration "$duration" --connections "$conns" --in-flight "$inflight" --mix "$mix" "${shape[@]}" -o json >"$dir/run.json" &
  local client_pid=$!
  local pids=()
  case $trace in
    client) pids=(--pid "$client_pid") ;;
    server) pids=(--pid "$serve_pid") ;;
    both) pids=(--pid "$client_pid" --pid "$serve_pid") ;;
  esac
  "$k" agent --listen "$api" "${pids[@]}" $AGENT_FLAGS >"$dir/agent.log" 2>&1 &
  local agent_pid=$!
  for _ in $(seq 100); do curl -sf "http://$api/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://$api/healthz" >/dev/null || { echo "agent did not start:"; cat "$dir/agent.log"; exit 1; }
  local s0 t0 m0 v0 w0
  s0=$(stats); t0=$(cpu_ticks "$agent_pid"); m0=$(busy_ticks); v0=$(cpu_ticks "$serve_pid"); w0=$(date +%s.%N)
  echo go >"$dir/gate"
  wait "$client_pid"
  # Let the agent drain its ring: wait until its count stops moving.
  local last=-1 now
  for _ in $(seq 50); do
    now=$(decoded)
    [ "$now" = "$last" ] && break
    last=$now; sleep 0.5
  done
  local s1 t1 m1 v1 w1
  s1=$(stats); t1=$(cpu_ticks "$agent_pid"); m1=$(busy_ticks); v1=$(cpu_ticks "$serve_pid"); w1=$(date +%s.%N)
  curl -sf "http://$api/metrics" | grep -E '^kscope_(capture_bytes_total|store_twins_dropped_total) ' >"$dir/metrics" || true
  kill -INT "$agent_pid"; wait "$agent_pid" || true
  kill -INT "$serve_pid"; wait "$serve_pid" || true
  python3 - "$name" "$trace" "$dir/run.json" "$s0" "$s1" "$t0" "$t1" "$(getconf CLK_TCK)" \
    "$((m1 - m0))" "$((v1 - v0))" "$(python3 -c "print($w1 - $w0)")" >>"$dir/rows" <<'PY'
import json, sys
name, trace, run, s0, s1, t0, t1, hz, busy, serve, window = sys.argv[1:]
r = json.load(open(run)); a0 = json.loads(s0)["agent"]; a1 = json.loads(s1)["agent"]
st = json.loads(s1).get("store", {})
st0 = json.loads(s0).get("store", {})
def d(*keys):
    def get(o):
        for k in keys:
            o = o[k]
        return o
    return get(a1) - get(a0)
seen = d("decoder", "exchanges")
sides = 2 if trace == "both" else 1
cpu_s = (int(t1) - int(t0)) / int(hz)
print(json.dumps(dict(
    name=name, rate_requested=r["rate_requested"], rate=r["rate"], batch=r["batch_bytes"], seconds=r["elapsed_seconds"],
    sent=r["sent"], answered=r["answered"], decoded=seen, exchanges=seen / sides,
    no_response=d("decoder", "no_response"), unmatched=d("decoder", "unmatched_responses"), resyncs=d("decoder", "resyncs"),
    bytes_lost=d("decoder", "bytes_lost"), ring_drops=d("capture", "ring_drops"), lost_bytes=d("capture", "lost_bytes"),
    capture_bytes=d("capture", "bytes"), ring_bytes=d("capture", "ring_bytes"), skipped_bytes=d("capture", "skipped_record_bytes"), cpu_s=cpu_s, twins_dropped=st.get("twins_dropped", 0),
    store_bytes=st.get("bytes", 0), store_budget=st.get("budget_bytes", 0), evicted=st.get("evicted", 0) - st0.get("evicted", 0),
    p99_us=r["latency_us"]["p99"], per_second=r["per_second"],
    # What the load generator used, and the machine's busy time, all
    # cores, over the same window (others' work shows as the rest).
    gen_cpu_s=r["client_cpu_seconds"] + int(serve) / int(hz), busy_s=int(busy) / int(hz), window_s=float(window))))
PY
}

echo "untraced, as fast as answered (--rate 0, $conns connections, $inflight in flight, batches of $batch bytes, up to $per_write per writev):"
"$k" bench wire run --rate 0 --duration "$duration" --connections "$conns" --in-flight "$inflight" --mix "$mix" \
  --batch-bytes "$batch" --partitions-per-request "$partitions" --per-write "$per_write" 2>/dev/null | grep -E 'exchanges/s|latency' | sed 's/^/  /'

ref0=$(host_ref)
for rate in $rates; do measure rate "$rate" "$batch"; done
if [ "$sweep" = 1 ]; then
  for b in $batches; do measure sweep "$sweep_rate" "$b"; done
fi

ref1=$(host_ref)
host_line "$ref0" "$ref1" "the runs"
python3 - "$dir/rows" "$trace" "$duration" "$conns" "$inflight" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
trace = sys.argv[2]
print(f"\ntraced: {trace} (agent --pid); {sys.argv[3]} per run, {sys.argv[4]} connections, {sys.argv[5]} in flight each")
if trace == "both":
    print("both ends traced: the decoder sees each exchange twice; 'agent saw' is decoded/2")
print("agent saw: exchanges the decoder emitted; complete: those with their response. lost: sent - complete.")
print("agent CPU (% of one core, per second of the run) and µs/exch count the run and the ring's drain;")
print("ring B/exch: kscope_capture_ring_bytes_total (event headers included) / exchanges; skipped B/exch: record")
print("bytes the kernel skipped (headers-only copying; AGENT_FLAGS=--copy-records copies them). gen CPU: the bench client and server, per second of")
print("the run; others: the rest of the machine's busy time over run and drain (other work there skews the run).")
hdr = f"{'rate asked':>10} {'reached':>9} {'batch B':>7} {'sent':>9} {'agent saw':>10} {'complete':>10} {'lost':>8} {'loss':>7} {'agent CPU':>9} {'µs/exch':>8} {'ring B/exch':>11} {'skipped B/exch':>14} {'ring drops':>10} {'gen CPU':>8} {'others':>7} {'p99':>8}"
for part, title in (("rate", "rates"), ("sweep", "batch-size sweep")):
    rs = [r for r in rows if r["name"] == part]
    if not rs:
        continue
    print(f"\n{title}:\n{hdr}")
    for r in rs:
        complete = r["exchanges"] - r["no_response"] / (2 if trace == "both" else 1)
        lost = r["sent"] - complete
        secs = r["seconds"] or 1
        cpu = 100 * r["cpu_s"] / secs
        gen = 100 * r["gen_cpu_s"] / secs
        others = max(0, 100 * (r["busy_s"] - r["cpu_s"] - r["gen_cpu_s"]) / r["window_s"])
        us = 1e6 * r["cpu_s"] / r["exchanges"] if r["exchanges"] else 0
        ring = r["ring_bytes"] / r["exchanges"] if r["exchanges"] else 0
        skipped = r["skipped_bytes"] / r["exchanges"] if r["exchanges"] else 0
        print(f"{r['rate_requested']:>10.0f} {r['rate']:>9.0f} {r['batch']:>7} {r['sent']:>9} {r['exchanges']:>10.0f} {complete:>10.0f} {lost:>8.0f} "
              f"{100*lost/max(r['sent'],1):>6.2f}% {cpu:>8.1f}% {us:>8.1f} {ring:>11.0f} {skipped:>14.0f} {r['ring_drops']:>10} {gen:>7.0f}% {others:>6.0f}% {r['p99_us']:>6.0f}µs")
        extra = []
        if r["no_response"]: extra.append(f"no response {r['no_response']}")
        if r["unmatched"]: extra.append(f"unmatched responses {r['unmatched']}")
        if r["resyncs"]: extra.append(f"resyncs {r['resyncs']}")
        if r["bytes_lost"]: extra.append(f"decoder bytes lost {r['bytes_lost']}")
        if r["lost_bytes"]: extra.append(f"capture lost bytes {r['lost_bytes']}")
        if trace == "both": extra.append(f"store twins dropped {r['twins_dropped']}")
        if others > 25: extra.append(f"SKEWED: other work used {others:.0f}% of a core meanwhile")
        ps = r["per_second"]
        if ps: extra.append(f"client per second {min(ps)}..{max(ps)}")
        # A store that evicted nothing was filling the whole run: memory
        # touched for the first time, which costs more than a full
        # store's reuse (README, "What the store's size costs").
        extra.append(f"store {r['store_bytes'] / 2**20:.0f} of {r['store_budget'] / 2**20:.0f} MiB, " +
                     (f"{r['evicted']} exchanges evicted" if r["evicted"] else "filling: none evicted"))
        print(" " * 10 + "  " + ", ".join(extra))
PY
