#!/usr/bin/env bash
# Where the agent's overhead comes from, on this machine: a synchronous
# franz-go producer (one record per request) against kscope broker, both
# pinned to CPU 0, alternating runs of
#   none       nothing attached
#   empty      programs that do nothing on the agent's 15 syscall exits
#   pid1       kscope agent --pid 1 (its programs, tracing nothing)
#   agent      kscope agent tracing everything, pinned to CPU 1
#   busy       a shell busy loop pinned to CPU 1, no tracing at all
#   small      the agent with a 16 MiB store (--memory 16MiB)
#   copy       the agent copying record data too (--copy-records)
#   tracepoints  the agent with its programs on each syscall's tracepoint
#              (--syscall-hook tracepoints), not on the raw sys_exit
# "busy" measures what any work on the other CPU costs the producer:
# where the two vCPUs share a physical core, the agent's own CPU use
# slows the producer down even when it runs elsewhere. MODES chooses the
# others (default "empty pid1 agent busy"); none, the baseline, always
# runs.
# Needs root. Prints the median of RUNS runs of each and the loss.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
modes=none
for m in ${MODES:-empty pid1 agent busy}; do
  case $m in
    none) ;;
    empty | pid1 | agent | small | copy | busy | tracepoints) modes+=" $m" ;;
    *) echo "MODES: empty, pid1, agent, small, copy, busy, tracepoints" >&2; exit 2 ;;
  esac
done
port=${PORT:-19392}
api=127.0.0.1:17179
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

CGO_ENABLED=0 go build -o "$dir/kscope" ./cmd/kscope
go build -o "$dir/tracefloor" ./scripts/tracefloor
k="$dir/kscope"
taskset -c 0 "$k" broker --brokers 1 --port "$port" --topic bench >"$dir/broker.log" 2>&1 &
sleep 1

rate() { taskset -c 0 "$k" bench traffic --bootstrap "127.0.0.1:$port" --topic bench --sync --bytes 1500000 --record-size 100 |
  awk '/produced/ {for (i=1;i<=NF;i++) if ($(i+1)=="records/s,") print $i}'; }
with() { # with CMD...: one rate while CMD runs
  "$@" >/dev/null 2>&1 & local p=$!
  sleep 1.5
  rate
  kill -TERM "$p"; wait "$p" 2>/dev/null || true
}

out=""
for i in $(seq "$runs"); do
  for m in $modes; do
    case $m in
      none) out+="none $(rate)"$'\n' ;;
      empty) out+="empty $(with "$dir/tracefloor")"$'\n' ;;
      pid1) out+="pid1 $(with taskset -c 1 "$k" agent --listen "$api" --pid 1)"$'\n' ;;
      agent) out+="agent $(with taskset -c 1 "$k" agent --listen "$api")"$'\n' ;;
      small) out+="small $(with taskset -c 1 "$k" agent --listen "$api" --memory 16MiB)"$'\n' ;;
      copy) out+="copy $(with taskset -c 1 "$k" agent --listen "$api" --copy-records)"$'\n' ;;
      tracepoints) out+="tracepoints $(with taskset -c 1 "$k" agent --listen "$api" --syscall-hook tracepoints)"$'\n' ;;
      busy) out+="busy $(with taskset -c 1 sh -c 'while :; do :; done')"$'\n' ;;
    esac
  done
done
python3 - <<PY
import statistics as st, collections
d = collections.defaultdict(list)
for line in """$out""".splitlines():
    k, v = line.split()
    d[k].append(float(v))
base = st.median(d["none"])
for k, v in d.items():
    m = st.median(v)
    print(f"{k:11} {m:8.0f} records/s  {100*(base-m)/base:+5.1f}% lost   runs: {' '.join(f'{x:.0f}' for x in v)}")
PY
