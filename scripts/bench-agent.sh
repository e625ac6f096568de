#!/usr/bin/env bash
# Measures what tracing costs a Kafka client: a franz-go producer
# (kscope bench traffic) against kscope broker, without and with
# `kscope agent` tracing the machine, in PAIRS alternating pairs (the
# order inside a pair alternates too: off-on, on-off, ...).
#   (a) one record per request (synchronous produce, 10 MB of 100-byte records)
#   (b) batched (1 GB of 1 KB records in 16 KiB batches)
# The producer and the broker are pinned to CPU $APP_CPU, the agent to
# CPU $AGENT_CPU (taskset). What that leaves out: an agent sharing the
# application's CPUs (on a busy host it competes for them), and what the
# two CPUs share (caches, memory bandwidth; on this VM a busy loop on one
# vCPU slows the other). The BPF programs run in the producer's and the
# broker's syscalls, on their CPU: their cost is in the figures.
#
# For each workload: the median records/s without and with the agent,
# the median of the per-pair ratios (with/without) with a bootstrap 95%
# confidence interval; the same for the CPU time the producer and the
# broker took for the same records (what tracing costs the application's
# CPU, which the VM's scheduling noise moves less than throughput); and
# the agent's CPU per exchange and ring bytes per exchange (each exchange
# is seen from both ends). Needs root.
# TRACE=client traces the producer alone (agent --cgroup, the producer in
# a cgroup of its own, with and without the agent), as an agent on a
# client's host does when the broker is on another; the broker's syscalls
# then only pass the programs' first check. TRACE=both (the default)
# traces the whole machine: both ends, on the one CPU.
# OTHER=busy runs a shell busy loop on CPU $AGENT_CPU instead of the agent,
# nothing traced: what any work on the other CPU costs the producer on
# this machine, with the same pairs and interval.
# Knobs: PAIRS (15), WORKLOADS ("sync batched"), TRACE (both), OTHER, AGENT_FLAGS,
# APP_CPU (0), AGENT_CPU (1), KSCOPE (a kscope binary to use instead of
# building one).
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${PAIRS:-15}
workloads=${WORKLOADS:-sync batched}
trace=${TRACE:-both}
other=${OTHER:-agent}
case $other in agent | busy) ;; *) echo "OTHER: agent, busy" >&2; exit 2 ;; esac
AGENT_FLAGS=${AGENT_FLAGS:-}
app_cpu=${APP_CPU:-0}
agent_cpu=${AGENT_CPU:-1}
port=${PORT:-19292}
api=127.0.0.1:${API_PORT:-17079}
[ "$(id -u)" = 0 ] || { echo "needs root (the agent traces with eBPF): run with sudo" >&2; exit 1; }
dir=$(mktemp -d)
cg=
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"; [ -n "$cg" ] && rmdir "$cg" 2>/dev/null; true' EXIT
case $trace in
  both) ;;
  client)
    # cgroup v2: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid
    # system.
    root=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
    [ -n "$root" ] || { echo "TRACE=client needs cgroup v2 mounted" >&2; exit 1; }
    cg=$root/kscope-bench-client
    mkdir -p "$cg"
    AGENT_FLAGS="$AGENT_FLAGS --cgroup $cg" ;;
  *) echo "TRACE: both, client" >&2; exit 2 ;;
esac

. scripts/lib.sh
k=$(kscope_binary "$dir")
# A fresh broker for every run: kfake keeps every record in memory, and a
# broker holding the earlier runs' gigabytes makes the later ones slower
# and their spread wider.
broker_start() {
  taskset -c "$app_cpu" "$k" broker --brokers 1 --port "$port" --topic bench >"$dir/broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.1; done
  echo "broker did not start:"; cat "$dir/broker.log"; exit 1
}
broker_stop() { kill -INT "$broker_pid"; wait "$broker_pid" || true; }

agent_start() {
  taskset -c "$agent_cpu" "$k" agent --listen "$api" $AGENT_FLAGS >"$dir/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 100); do curl -sf "http://$api/healthz" >/dev/null && return; sleep 0.1; done
  echo "agent did not start:"; cat "$dir/agent.log"; exit 1
}
agent_stop() { kill -INT "$agent_pid"; wait "$agent_pid" || true; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
stats() { curl -sf "http://$api/api/v1/stats"; }

# rate ARGS...: one producer run against a fresh broker; prints its
# records/s and the CPU seconds the producer and the broker took, as JSON
# ({"rate": .., "app_cpu_s": ..}). The producer's CPU is its shell's
# waited-for children's (/proc/$$/stat cutime + cstime); the broker's is
# read before it stops (a fresh broker each run: its start is in both).
rate() {
  broker_start
  local out b
  # The producer in the traced cgroup (TRACE=client: $cg), before it
  # opens a socket.
  out=$(taskset -c "$app_cpu" sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs" || exit 1
    "$@"; awk "{print \"app_cpu_ticks\", \$16 + \$17}" /proc/$$/stat' "$cg" \
    "$k" bench traffic --bootstrap "127.0.0.1:$port" --topic bench "$@")
  b=$(cpu_ticks "$broker_pid")
  broker_stop
  awk -v b="$b" -v hz="$(getconf CLK_TCK)" '
    /produced/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "records/s,") r = $i}
    /^app_cpu_ticks/ {p = $2}
    END {printf "{\"rate\": %s, \"app_cpu_s\": %.2f}\n", r, (p + b) / hz}' <<<"$out"
}

# on ARGS...: one run with a fresh agent; prints "records/s agent-json"
on() {
  if [ "$other" = busy ]; then
    taskset -c "$agent_cpu" sh -c 'while :; do :; done' &
    local busy=$! r
    r=$(rate "$@")
    kill "$busy"; wait "$busy" 2>/dev/null || true
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r.update(exchanges=0, cpu_s=0, ring_bytes=0, skipped=0, ring_drops=0, lost_bytes=0, resyncs=0); print(json.dumps(r))' "$r"
    return
  fi
  agent_start
  local s0 t0 s1 t1 r
  s0=$(stats); t0=$(cpu_ticks "$agent_pid")
  r=$(rate "$@")
  # Let the agent drain its ring: wait until its count stops moving.
  local last=-1 now
  for _ in $(seq 40); do
    now=$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent"]["decoder"]["exchanges"])')
    [ "$now" = "$last" ] && break
    last=$now; sleep 0.25
  done
  s1=$(stats); t1=$(cpu_ticks "$agent_pid")
  agent_stop
  python3 - "$r" "$s0" "$s1" "$t0" "$t1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
r, s0, s1, t0, t1, hz = sys.argv[1:]
a0, a1 = json.loads(s0)["agent"], json.loads(s1)["agent"]
d = lambda g, k: a1[g][k] - a0[g][k]
print(json.dumps(dict(**json.loads(r), exchanges=d("decoder", "exchanges"), cpu_s=(int(t1) - int(t0)) / int(hz),
    ring_bytes=d("capture", "ring_bytes"), skipped=d("capture", "skipped_record_bytes"),
    ring_drops=d("capture", "ring_drops"), lost_bytes=d("capture", "lost_bytes"), resyncs=d("decoder", "resyncs"))))
PY
}

ref0=$(host_ref)
for mode in $workloads; do
  case $mode in
    sync) args=(--sync --bytes 10000000 --record-size 100) ;;
    batched) args=(--bytes 1000000000 --record-size 1000) ;;
    *) echo "WORKLOADS: sync, batched" >&2; exit 2 ;;
  esac
  for i in $(seq "$pairs"); do
    if [ $((i % 2)) = 1 ]; then
      off=$(rate "${args[@]}"); o=$(on "${args[@]}")
    else
      o=$(on "${args[@]}"); off=$(rate "${args[@]}")
    fi
    echo "{\"mode\": \"$mode\", \"pair\": $i, \"off\": $off, \"on\": $o}" >>"$dir/rows"
    python3 -c 'import json, sys
a, b = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print("  %s: without %.0f records/s (%.2f s of CPU), with %.0f (%.2f s)" % (sys.argv[1], a["rate"], a["app_cpu_s"], b["rate"], b["app_cpu_s"]))' \
      "$mode pair $i" "$off" "$o" >&2
  done
done

ref1=$(host_ref)
[ "$other" = busy ] && trace=busy
host_line "$ref0" "$ref1" "the pairs"
python3 - "$dir/rows" "$pairs" "$app_cpu" "$agent_cpu" "$trace" <<'PY'
import json, random, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
traced = {"both": "the whole machine traced (both ends)", "client": "the producer traced alone (--cgroup)",
          "busy": "no agent: a busy loop on the agent's CPU, nothing traced"}[sys.argv[5]]
print(f"\n{sys.argv[2]} alternating pairs per workload; producer and broker on CPU {sys.argv[3]}, agent on CPU {sys.argv[4]}; {traced}")
names = {"sync": "(a) one record per request", "batched": "(b) batched, 16 KiB batches"}
random.seed(1)
for mode in ("sync", "batched"):
    rs = [r for r in rows if r["mode"] == mode]
    if not rs:
        continue
    off = [r["off"]["rate"] for r in rs]; on = [r["on"]["rate"] for r in rs]
    def interval(ratios):
        boot = sorted(st.median(random.choices(ratios, k=len(ratios))) for _ in range(10000))
        return st.median(ratios), boot[249], boot[9749]
    m, lo, hi = interval([b / a for a, b in zip(off, on)])
    print(f"{names[mode]}: without {st.median(off):.0f} records/s, with {st.median(on):.0f} records/s")
    print(f"   with/without, median of pairs: {m:.3f} ({100*(m-1):+.1f}%), 95% CI {lo:.3f}..{hi:.3f} ({100*(lo-1):+.1f}%..{100*(hi-1):+.1f}%)")
    print(f"   runs without: {' '.join(f'{x:.0f}' for x in off)}")
    print(f"   runs with:    {' '.join(f'{x:.0f}' for x in on)}")
    # The same records, so the CPU ratio is the CPU per record's.
    coff = [r["off"]["app_cpu_s"] for r in rs]; con = [r["on"]["app_cpu_s"] for r in rs]
    m, lo, hi = interval([b / a for a, b in zip(coff, con)])
    print(f"   CPU of the producer and the broker for the same records, with/without: {m:.3f} ({100*(m-1):+.1f}%), "
          f"95% CI {lo:.3f}..{hi:.3f} ({100*(lo-1):+.1f}%..{100*(hi-1):+.1f}%); medians {st.median(coff):.2f} and {st.median(con):.2f} s")
    if not any(r["on"]["exchanges"] for r in rs):
        continue
    us = [1e6 * r["on"]["cpu_s"] / r["on"]["exchanges"] for r in rs if r["on"]["exchanges"]]
    ring = [r["on"]["ring_bytes"] / r["on"]["exchanges"] for r in rs if r["on"]["exchanges"]]
    skip = [r["on"]["skipped"] / r["on"]["exchanges"] for r in rs if r["on"]["exchanges"]]
    exch = [r["on"]["exchanges"] for r in rs]
    print(f"   agent: {st.median(us):.1f} µs of CPU per exchange (runs {min(us):.1f}..{max(us):.1f}), ring {st.median(ring):.0f} bytes per exchange, "
          f"{st.median(skip):.0f} record bytes skipped per exchange; {min(exch)}..{max(exch)} exchanges a run (each end traced counts)")
    bad = [(k, sum(r["on"][k] for r in rs)) for k in ("ring_drops", "lost_bytes", "resyncs")]
    print("   " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in bad))
PY
