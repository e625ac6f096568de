/* compat connects to 127.0.0.1:argv[1], writes "hello", reads 4 bytes with
 * a 32-bit syscall (int 0x80: read is number 3 there, close on x86-64),
 * writes "world", then waits for the peer to close. Exit status 4: the
 * 32-bit syscall failed, or faulted (a kernel without IA32 emulation, or
 * with it turned off: int 0x80 then raises a general protection fault,
 * which arrives as SIGSEGV). See TestCompatSyscall. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static void no_compat(int sig)
{
	(void)sig;
	_exit(4);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return 2;
	if (write(fd, "hello", 5) != 5)
		return 3;
	/* A 32-bit syscall takes 32-bit pointers. */
	char *buf = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (buf == MAP_FAILED)
		return 3;
	long ret;
	signal(SIGSEGV, no_compat);
	/* di holds the fd too, where a 64-bit close would find it. */
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(3), "b"(fd), "c"(buf), "d"(4), "D"(fd)
			 : "memory", "r8", "r9", "r10", "r11");
	signal(SIGSEGV, SIG_DFL);
	if (ret != 4)
		return 4;
	if (write(fd, "world", 5) != 5)
		return 5;
	char c;
	read(fd, &c, 1);
	return 0;
}
