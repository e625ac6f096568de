# Sourced by the bench scripts.

# kscope_binary DIR prints the kscope to run: $KSCOPE when set, else one
# built from this tree into DIR.
kscope_binary() {
  if [ -n "${KSCOPE:-}" ]; then
    echo "$KSCOPE"
    return
  fi
  go build -o "$1/kscope" ./cmd/kscope
  echo "$1/kscope"
}
