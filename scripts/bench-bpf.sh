#!/usr/bin/env bash
# What the agent's BPF programs cost the traced processes, in their own
# syscalls: a franz-go producer (kscope bench traffic) against a fresh
# kscope broker, both pinned to CPU 0, with kscope agent tracing the whole
# machine from CPU 1, kernel.bpf_stats_enabled set. For each run, each
# program's calls and run time (bpftool prog show), and their total.
# The machine's noise hides a few percent of throughput, not this.
#   WORKLOADS  "batched sync" (default): batched is 1 GB of 1 KB records
#              in 16 KiB batches (bench-agent.sh's); sync is 20,000 100-byte
#              records, one per request
#   RUNS       runs of each (3)
#   AGENT_FLAGS  the agent's flags ("--syscall-hook tracepoints": one
#              program per syscall, whose calls are that syscall's alone;
#              on the raw sys_exit one program runs for every syscall of
#              the machine, and its figures average over them all)
#   KSCOPE     a kscope binary to use instead of building one
# Needs root and bpftool (Debian: apt install bpftool).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
workloads=${WORKLOADS:-batched sync}
port=${PORT:-19393}
api=127.0.0.1:${API_PORT:-17099}
AGENT_FLAGS=${AGENT_FLAGS:---syscall-hook tracepoints}
[ "$(id -u)" = 0 ] || { echo "needs root (the agent traces with eBPF): run with sudo" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "needs bpftool (apt install bpftool)" >&2; exit 1; }
dir=$(mktemp -d)
old=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $(jobs -p) 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled="$old"; rm -rf "$dir"' EXIT
. scripts/lib.sh
k=$(kscope_binary "$dir")
sysctl -qw kernel.bpf_stats_enabled=1

# run ARGS...: one producer run under a fresh broker and agent; prints the
# producer's line, then each program's figures and the total.
run() {
  taskset -c 0 "$k" broker --brokers 1 --port "$port" --topic bench >"$dir/broker.log" 2>&1 &
  local broker=$!
  # shellcheck disable=SC2086 # AGENT_FLAGS is a list of flags
  taskset -c 1 "$k" agent --listen "$api" $AGENT_FLAGS >"$dir/agent.log" 2>&1 &
  local agent=$!
  for _ in $(seq 100); do curl -sf "http://$api/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://$api/healthz" >/dev/null || { echo "agent did not start:"; cat "$dir/agent.log"; exit 1; }
  taskset -c 0 "$k" bench traffic --bootstrap "127.0.0.1:$port" --topic bench "$@" 2>&1 | grep produced | sed 's/^/  /'
  # The agent's programs are the only ones with run counts from this run:
  # each agent loads its own.
  bpftool prog show | awk '
    / name / { t = 0; c = 0; for (i = 1; i <= NF; i++) { if ($i == "name") n = $(i + 1); if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) } }
    / name / && c > 100 && n ~ /^(exit_|sys_exit)/ { printf "  %-14s %9d calls %7.3f s %6.2f µs/call\n", n, c, t / 1e9, t / c / 1000; tt += t }
    END { printf "  total          %.3f s\n", tt / 1e9 }'
  kill -INT "$agent" "$broker"
  wait "$agent" "$broker" || true
}

for w in $workloads; do
  case $w in
    batched) args=(--bytes 1000000000 --record-size 1000) ;;
    sync) args=(--sync --bytes 2000000 --record-size 100) ;;
    *) echo "WORKLOADS: batched, sync" >&2; exit 2 ;;
  esac
  for i in $(seq "$runs"); do
    echo "$w run $i:"
    run "${args[@]}"
  done
done
