/* Minimal kernel types for CO-RE reads: only the fields kscope touches.
 * preserve_access_index makes clang record each access so that libbpf and
 * cilium/ebpf relocate the offsets against the running kernel's BTF
 * (/sys/kernel/btf/vmlinux); the layout below never has to match. This
 * replaces a 3 MB generated vmlinux.h. */
#pragma once

#include <linux/types.h>
#include <stdbool.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct inode {
	unsigned short i_mode;
};

struct file {
	struct inode *f_inode;
	void *private_data;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct in6_addr {
	__u8 s6_addr[16];
};

/* The kernel keeps these inside anonymous unions and structs; CO-RE finds
 * a field by name through anonymous members, so a flat list is enough. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
};

struct socket {
	struct sock *sk;
};

/* The registers a syscall was entered with, as bpf_task_pt_regs returns
 * them. bpf2go compiles one object per architecture (-target amd64,arm64)
 * and defines __TARGET_ARCH_<arch>: each reads the arguments where its
 * architecture's syscall ABI leaves them. */
#if defined(__TARGET_ARCH_x86)
/* x86-64: arguments in di, si, dx, r10, r8, r9, unchanged when the
 * syscall returns (the return value goes to ax). */
struct pt_regs {
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
};
#define SYSCALL_ARG0(regs) ((regs)->di)
#define SYSCALL_ARG1(regs) ((regs)->si)
#define SYSCALL_ARG2(regs) ((regs)->dx)
/* The syscall's number, as the raw sys_exit tracepoint sees it. A 32-bit
 * syscall (int 0x80, sysenter, or a 32-bit process) numbers them
 * differently: the kernel marks it in thread_info.status (TS_COMPAT), as
 * its own syscall tracepoints check before they run a program. x32's
 * numbers carry bit 30 and match none of those below. */
struct thread_info {
	__u32 status;
};
#define TS_COMPAT 0x0002
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#define SYSCALL_COMPAT(task, regs) ((task)->thread_info.status & TS_COMPAT)
/* arch/x86/entry/syscalls/syscall_64.tbl */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#elif defined(__TARGET_ARCH_arm64)
/* arm64: arguments in x0-x5, but x0 is overwritten by the return value
 * before sys_exit: the kernel keeps the first argument in orig_x0. regs[]
 * sits in an anonymous union with struct user_pt_regs; CO-RE finds it by
 * name. */
struct pt_regs {
	__u64 regs[31];
	__u64 pstate;
	__u64 orig_x0;
	__s32 syscallno;
};
#define SYSCALL_ARG0(regs) ((regs)->orig_x0)
#define SYSCALL_ARG1(regs) ((regs)->regs[1])
#define SYSCALL_ARG2(regs) ((regs)->regs[2])
/* A 32-bit (AArch32) task has its own numbers: PSR_MODE32_BIT in the
 * saved pstate says so (the kernel's compat_user_mode). */
#define PSR_MODE32_BIT 0x10
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define SYSCALL_COMPAT(task, regs) ((regs)->pstate & PSR_MODE32_BIT)
/* include/uapi/asm-generic/unistd.h */
#define NR_read 63
#define NR_write 64
#define NR_close 57
#define NR_readv 65
#define NR_writev 66
#define NR_sendfile 71
#define NR_connect 203
#define NR_accept 202
#define NR_sendto 206
#define NR_recvfrom 207
#define NR_sendmsg 211
#define NR_recvmsg 212
#define NR_accept4 242
#define NR_recvmmsg 243
#define NR_sendmmsg 269
#else
#error "kscope's capture reads syscall arguments on x86-64 and arm64 only: build with bpf2go -target amd64 or arm64"
#endif

struct task_struct {
#if defined(__TARGET_ARCH_x86)
	struct thread_info thread_info; /* the first member (THREAD_INFO_IN_TASK) */
#endif
	struct files_struct *files;
	struct task_struct *group_leader;
	char comm[16];
};

#pragma clang attribute pop

/* The sys_exit tracepoint record (see
 * /sys/kernel/tracing/events/syscalls/sys_exit_write/format): 8 bytes of
 * common fields, the syscall number padded to 8, then the return value.
 * Fixed by the tracepoint ABI, not CO-RE. */
struct sys_exit_ctx {
	__u64 common;
	long id;
	long ret;
};

/* User-space ABI structures: the same on x86-64 and arm64 (LP64). */
struct user_iovec {
	__u64 base;
	__u64 len;
};

struct user_msghdr {
	__u64 msg_name;
	__s32 msg_namelen;
	__s32 _pad0;
	__u64 msg_iov;
	__u64 msg_iovlen;
	__u64 msg_control;
	__u64 msg_controllen;
	__u32 msg_flags;
	__u32 _pad1;
};

struct user_mmsghdr {
	struct user_msghdr msg_hdr;
	__u32 msg_len;
	__u32 _pad;
};
