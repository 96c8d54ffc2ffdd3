/*
 * outb PORT VALUE: one byte to an x86 I/O port from user space (root),
 * for the boot-progress port of lkvm --boot-trace; the kernels the cases
 * run have no /dev/port (CONFIG_DEVPORT unset).  PROG_ARCH=x86_64
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
	unsigned long port, value;

	if (argc != 3)
		return 2;
	port = strtoul(argv[1], NULL, 0);
	value = strtoul(argv[2], NULL, 0);
	if (port > 0xffff || value > 0xff || ioperm(port, 1, 1)) {
		perror("outb");
		return 1;
	}
	outb((unsigned char)value, (unsigned short)port);
	return 0;
}
