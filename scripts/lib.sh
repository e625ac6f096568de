# Sourced by the bench scripts.

# kscope_binary DIR prints the kscope to run: $KSCOPE when set, else one
# built from this tree into DIR.
kscope_binary() {
  if [ -n "${KSCOPE:-}" ]; then
    echo "$KSCOPE"
    return
  fi
  CGO_ENABLED=0 go build -o "$1/kscope" ./cmd/kscope
  echo "$1/kscope"
}

# host_ref prints the CPU milliseconds a fixed Python loop takes, the
# median of three: how fast the host runs that loop now. On a shared
# machine this varies twofold from hour to hour with the neighbours' load,
# and every µs figure with it; lower is faster. It does not rank
# machines: a VM that runs the loop faster may fault pages in slower.
host_ref() {
  python3 - <<'PY'
import time
runs = []
for _ in range(3):
    t = time.process_time()
    s = 0
    for i in range(2_000_000):
        s += i * i
    runs.append(time.process_time() - t)
print(f"{sorted(runs)[1] * 1e3:.0f}")
PY
}

# host_line BEFORE AFTER WHAT prints the host_ref readings taken before
# and after WHAT (the runs, the pairs).
host_line() {
  echo "host: a fixed Python loop took $1 ms of CPU before $3, $2 after (host_ref in scripts/lib.sh; lower is faster"
  echo "for that loop; it moves with the neighbours' load, and so does every figure; it does not rank machines)"
}
