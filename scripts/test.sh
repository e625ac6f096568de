#!/usr/bin/env bash
# Runs every kscope test. Installs what the tests need first (Debian
# packages: tshark to compare with Wireshark's dissector, real Kafka
# clients, tcpdump, Prometheus to scrape the agent, clang to rebuild the
# BPF objects, chromium for the web console's browser tests), when run as
# root; otherwise the tests that need them skip and say why (under CI=true
# they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark >/dev/null || need+=(tshark)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v curl >/dev/null || need+=(curl)
command -v prometheus >/dev/null || need+=(prometheus)
# The alert rules: amtool, and the end-to-end test's Alertmanager.
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
# TestGeneratedUpToDate rebuilds the BPF objects and compares them.
command -v clang >/dev/null || need+=(clang)
command -v llvm-strip >/dev/null || need+=(llvm)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v kcat >/dev/null || need+=(kcat)
/usr/bin/python3 -c 'import kafka' 2>/dev/null || need+=(python3-kafka)
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || need+=(python3-confluent-kafka)
# The web console's browser tests (test/browser) drive it.
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "not root: not installing ${need[*]}; tests that need them will skip" >&2
  fi
fi

go vet ./...
# kscope analyze reads capture files anywhere: macOS and 32-bit Linux
# build (without tracing, which needs Linux on amd64 or arm64).
for target in darwin/arm64 linux/386; do
  GOOS=${target%/*} GOARCH=${target#*/} go vet ./...
done
# The README says to install kscope built without cgo: that build must
# link and decode as the tested one does.
static=$(mktemp -d)
CGO_ENABLED=0 go build -o "$static/kscope" ./cmd/kscope
go run ./cmd/kscope analyze -o jsonl testdata/captures/franz-go.pcap >"$static/cgo.jsonl"
"$static/kscope" analyze -o jsonl testdata/captures/franz-go.pcap >"$static/static.jsonl"
cmp "$static/cgo.jsonl" "$static/static.jsonl"
[ -s "$static/static.jsonl" ]
rm -rf "$static"
go test -race -timeout 30m ./...
# The browser tests are a module of their own, so that kscope's go.mod
# stays free of the browser driver.
(cd test/browser && go vet ./... && go test -race -timeout 20m ./...)
