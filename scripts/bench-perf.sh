#!/usr/bin/env bash
# Splits what tracing costs a synchronous Kafka producer by where the CPU
# goes: a franz-go producer (kscope bench traffic --sync, 20,000 records of
# 100 bytes) and kscope broker on CPU $APP_CPU, without and with
# `kscope agent` (on CPU $AGENT_CPU) tracing the machine, in PAIRS pairs,
# each run sampled on the application's CPU by `perf record -e cpu-clock`
# (no hardware counters needed). The same records take more CPU samples
# with the agent; the script sums the extra samples of all pairs by kind:
#   - the BPF programs (bpf_prog_*);
#   - the tracepoint machinery that runs them (syscall_exit_work; on the
#     raw sys_exit, __bpf_trace_run; on the syscall tracepoints
#     (AGENT_FLAGS="--syscall-hook tracepoints"), trace_call_bpf,
#     perf_syscall_exit, perf_swevent_*, perf_trace_buf_alloc), which
#     kernel.bpf_stats_enabled does not count;
#   - the programs' helpers, maps and ring (bpf_*, htab*, ringbuf, the
#     nofault copies);
#   - the rest of the kernel, and user code (the same work, slower).
# A sample taken while interrupts are off lands where they are turned back
# on (_raw_spin_unlock_irqrestore): the locks of maps and of the ring show
# there, among the rest of the kernel. Needs root and perf.
# Knobs: PAIRS (4), APP_CPU (0), AGENT_CPU (1), RECORDS (20000), TOP (12:
# the largest increases listed), AGENT_FLAGS, KSCOPE (a kscope binary to use instead of
# building one).
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${PAIRS:-4}
app_cpu=${APP_CPU:-0}
agent_cpu=${AGENT_CPU:-1}
records=${RECORDS:-20000}
top=${TOP:-12}
AGENT_FLAGS=${AGENT_FLAGS:-}
port=${PORT:-19392}
api=127.0.0.1:${API_PORT:-17179}
[ "$(id -u)" = 0 ] || { echo "needs root (the agent traces with eBPF, perf samples the kernel): run with sudo" >&2; exit 1; }
command -v perf >/dev/null || { echo "needs perf (Debian: linux-perf)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
. scripts/lib.sh
k=$(kscope_binary "$dir")

# run MODE OUT: one producer run against a fresh broker, with the agent
# when MODE is on; OUT gets the samples per symbol.
run() {
  local mode=$1 out=$2 broker agent=
  taskset -c "$app_cpu" "$k" broker --brokers 1 --port "$port" --topic bench >"$dir/broker.log" 2>&1 &
  broker=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  if [ "$mode" = on ]; then
    # shellcheck disable=SC2086 # AGENT_FLAGS is a list of flags
    taskset -c "$agent_cpu" "$k" agent --listen "$api" $AGENT_FLAGS >"$dir/agent.log" 2>&1 &
    agent=$!
    for _ in $(seq 100); do curl -sf "http://$api/healthz" >/dev/null && break; sleep 0.1; done
    curl -sf "http://$api/healthz" >/dev/null || { echo "agent did not start:"; cat "$dir/agent.log"; exit 1; }
  fi
  perf record -q -C "$app_cpu" -e cpu-clock -F 4000 -o "$dir/perf.data" -- \
    taskset -c "$app_cpu" "$k" bench traffic --bootstrap "127.0.0.1:$port" --topic bench --sync \
    --bytes $((records * 100)) --record-size 100 2>&1 | grep produced | sed "s/^/  $mode: /"
  [ -n "$agent" ] && { kill -INT "$agent"; wait "$agent" || true; }
  kill -INT "$broker"; wait "$broker" || true
  perf report -i "$dir/perf.data" --no-children --sort sym -g none -F sample,sym 2>/dev/null | grep -E '^ +[0-9]' >"$out"
}

for i in $(seq "$pairs"); do
  echo "pair $i:"
  run off "$dir/off.$i"
  run on "$dir/on.$i"
done

python3 - "$dir" "$pairs" "$top" <<'PY'
import re, sys
d, pairs, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(path):
    out = {}
    for line in open(path):
        m = re.match(r'\s+(\d+)\s+(.*)$', line)
        if m:
            out[m.group(2).strip()] = out.get(m.group(2).strip(), 0) + int(m.group(1))
    return out
machinery = ('trace_call_bpf', 'perf_syscall_exit', 'syscall_exit_work', 'perf_swevent_', 'perf_trace_buf_alloc',
             '__bpf_trace_run', 'bpf_trace_run')
helpers = ('bpf', 'htab', 'lookup_nulls', 'ringbuf', 'copy_from_user_nofault', 'copy_from_kernel_nofault', '__pi_memcpy', 'pcpu_freelist')
def kind(sym):
    name = sym.split(' ', 1)[-1]
    if name.startswith('bpf_prog_'):
        return 'the BPF programs'
    if name.startswith(machinery):
        return 'the tracepoint machinery'
    if any(h in name for h in helpers):
        return "the programs' helpers, maps and ring"
    return 'the rest of the kernel' if sym.startswith('[k]') else 'user code'
off, on = {}, {}
for i in range(1, pairs + 1):
    a, b = load(f'{d}/off.{i}'), load(f'{d}/on.{i}')
    ta, tb = sum(a.values()), sum(b.values())
    print(f'pair {i}: {ta} samples without the agent, {tb} with: {100 * (tb - ta) / ta:+.1f}%')
    for s, v in a.items():
        off[s] = off.get(s, 0) + v
    for s, v in b.items():
        on[s] = on.get(s, 0) + v
ta, tb = sum(off.values()), sum(on.values())
print(f'\nall pairs: {ta} samples without, {tb} with: {100 * (tb - ta) / ta:+.1f}% of the application CPU\'s time')
by = {}
for s in set(off) | set(on):
    by[kind(s)] = by.get(kind(s), 0) + on.get(s, 0) - off.get(s, 0)
for k in ('the BPF programs', 'the tracepoint machinery', "the programs' helpers, maps and ring", 'the rest of the kernel', 'user code'):
    print(f'  {k:40s} {100 * by.get(k, 0) / ta:+5.1f}%')
print(f'\nlargest increases (samples without, with):')
for dlt, s in sorted(((on.get(s, 0) - off.get(s, 0), s) for s in set(off) | set(on)), reverse=True)[:top]:
    print(f'  {dlt:+6d}  {off.get(s, 0):6d} {on.get(s, 0):6d}  {s}  ({kind(s)})')
PY
