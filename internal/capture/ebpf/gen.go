package ebpf

// One object per architecture: the programs read syscall arguments from
// registers, which differ (see SYSCALL_ARG in bpf/kernel.h). bpf2go defines
// __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 and writes capture_x86_bpfel.*
// and capture_arm64_bpfel.*, each for its GOARCH. TestGeneratedUpToDate
// runs this line again and compares.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64,arm64 -cc clang -cflags "-O2 -g -Wall -target bpf -I/usr/include/x86_64-linux-gnu" -type event_hdr -type kind -type dir -type flag -type verdict -type config -type cpu_stats capture bpf/capture.c -- -I./bpf
