package ebpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -cc clang -cflags "-O2 -g -Wall -target bpf -I/usr/include/x86_64-linux-gnu" -type event_hdr -type kind -type dir -type flag -type verdict -type config -type cpu_stats capture bpf/capture.c -- -I./bpf
