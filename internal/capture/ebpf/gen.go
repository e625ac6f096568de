package ebpf

// One object per architecture: the programs read syscall arguments from
// registers, which differ (see SYSCALL_ARG in bpf/kernel.h). bpf2go defines
// __TARGET_ARCH_x86 or __TARGET_ARCH_arm64 and writes capture_x86_bpfel.*
// and capture_arm64_bpfel.*, each for its GOARCH. TestGeneratedUpToDate
// runs this line again and compares. The multiarch include directories
// give linux/bpf.h its asm/types.h (the generic 64-bit one on both); the
// one of the machine that runs go generate is there, the other ignored.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64,arm64 -cc clang -cflags "-O2 -g -Wall -target bpf -I/usr/include/x86_64-linux-gnu -I/usr/include/aarch64-linux-gnu" -type event_hdr -type kind -type dir -type flag -type verdict -type config -type cpu_stats -type walk_state -type hint_key -type hint -type segment capture bpf/capture.c -- -I./bpf
