#ifndef LKVM_TERM_H
#define LKVM_TERM_H

#include <stdbool.h>

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
/*
 * lkvm's own init: stdin is not read until the guest says its console is
 * set up (exit device, offset 1), so no byte is lost to the UART's FIFO
 * reset or echoed; piped input ends with ^D (EOF for a canonical tty).
 */
void term_hold_input(void);
void term_release_input(void);
void term_send_eof(bool on);
/* Guest console output; safe from any thread.  Written a line at a time. */
void console_write(const u8 *buf, size_t n);
/* Write out what console_write holds (at exit, before messages of lkvm's own). */
void console_flush(void);

#endif
