/* lkvm's guest init (guest/init.c, built static) inside the lkvm binary. */
	.section .rodata
	.balign 16
	.globl lkvm_guest_init_start
	.globl lkvm_guest_init_end
lkvm_guest_init_start:
#ifndef LKVM_INIT_BIN
#define LKVM_INIT_BIN "guest/lkvm-init"
#endif
	.incbin LKVM_INIT_BIN
lkvm_guest_init_end:
	.section .note.GNU-stack,"",%progbits
