#ifndef LKVM_TERM_H
#define LKVM_TERM_H

#include <stddef.h>
#include "lkvm/compiler.h"

struct kvm;

/*
 * The host side of the guest console: stdout for guest output, stdin for
 * guest input.  When stdin is a terminal it is put in raw mode and
 * restored at exit, whatever the exit path.  Ctrl-A x stops the VM.
 */

/* The device that receives console input (the active console device). */
struct console_input {
	/* Accept up to n bytes; returns how many were taken. */
	size_t (*push)(void *opaque, const u8 *buf, size_t n);
	void *opaque;
};

void term_init(struct kvm *kvm);
void term_set_input(const struct console_input *in);
/* Start the thread that reads stdin. */
void term_start(void);
/* Tell the reader that the input device has room again. */
void term_input_ready(void);
void term_restore(void);
/* Guest console output; safe from any thread. */
void console_write(const u8 *buf, size_t n);

#endif
