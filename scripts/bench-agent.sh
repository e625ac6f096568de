#!/usr/bin/env bash
# Measures what tracing costs a Kafka client: a franz-go producer
# (kscope bench traffic) against kscope broker, without and with
# `kscope agent` tracing the machine, alternating runs, RUNS of each.
#   (a) one record per request (synchronous produce)
#   (b) batched (16 KiB batches)
# Also the agent's CPU per 10,000 exchanges/s, and what it lost.
# Needs root. Prints the medians and the throughput lost.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
AGENT_FLAGS=${AGENT_FLAGS:-}
port=${PORT:-19292}
api=127.0.0.1:17079
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

go build -o "$dir/kscope" ./cmd/kscope
k="$dir/kscope"
"$k" broker --brokers 1 --port "$port" --topic bench >"$dir/broker.log" 2>&1 &
sleep 1

agent_start() {
  "$k" agent --listen "$api" $AGENT_FLAGS >"$dir/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 50); do curl -sf "http://$api/healthz" >/dev/null && return; sleep 0.1; done
  echo "agent did not start:"; cat "$dir/agent.log"; exit 1
}
agent_stop() { kill -INT "$agent_pid"; wait "$agent_pid" || true; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# rate ARGS...: records/s of one producer run
rate() { "$k" bench traffic --bootstrap "127.0.0.1:$port" --topic bench "$@" | awk '/produced/ {for (i=1;i<=NF;i++) if ($(i+1)=="records/s,") print $i}'; }

declare -A res
for mode in sync batched; do
  if [ $mode = sync ]; then args=(--sync --bytes 2000000 --record-size 100); else args=(--bytes 200000000 --record-size 1000); fi
  for i in $(seq "$runs"); do
    res[$mode,off]+="$(rate "${args[@]}") "
    agent_start
    t0=$(cpu_ticks "$agent_pid"); e0=$(curl -s "http://$api/api/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent"]["decoder"]["exchanges"])')
    s0=$(date +%s.%N)
    res[$mode,on]+="$(rate "${args[@]}") "
    s1=$(date +%s.%N)
    sleep 0.5
    stats=$(curl -s "http://$api/api/v1/stats")
    t1=$(cpu_ticks "$agent_pid")
    agent_stop
    res[$mode,cpu]+="$(python3 -c "
import json,sys
s=json.loads(sys.argv[1]); a=s['agent']
ex=a['decoder']['exchanges']-int(sys.argv[2]); secs=float(sys.argv[4])-float(sys.argv[3])
cpu=(int(sys.argv[6])-int(sys.argv[5]))/100/secs
print(f\"{ex/secs:.0f}:{cpu*100:.1f}:{a['capture']['ring_drops']}:{a['capture']['lost_bytes']}:{a['decoder']['resyncs']}\")
" "$stats" "$e0" "$s0" "$s1" "$t0" "$t1") "
  done
done

python3 - "${res[sync,off]}" "${res[sync,on]}" "${res[sync,cpu]}" "${res[batched,off]}" "${res[batched,on]}" "${res[batched,cpu]}" <<'PY'
import sys, statistics as st
a = sys.argv[1:]
for name, off, on, cpu in (("(a) one record per request", a[0], a[1], a[2]), ("(b) batched", a[3], a[4], a[5])):
    off = [float(x) for x in off.split()]; on = [float(x) for x in on.split()]
    mo, mn = st.median(off), st.median(on)
    print(f"{name}: without agent {mo:.0f} records/s, with agent {mn:.0f} records/s: {100*(mo-mn)/mo:+.1f}% lost")
    print(f"   runs without: {' '.join(f'{x:.0f}' for x in off)}")
    print(f"   runs with:    {' '.join(f'{x:.0f}' for x in on)}")
    for c in cpu.split():
        ex, pct, drops, lost, resyncs = c.split(":")
        per10k = float(pct) / (float(ex) / 10000) if float(ex) else 0
        print(f"   agent: {ex} exchanges/s, {pct}% of one core ({per10k:.1f}% per 10k exchanges/s), ring drops {drops}, lost bytes {lost}, resyncs {resyncs}")
PY
