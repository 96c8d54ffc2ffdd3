#ifndef LKVM_GDB_CMD_H
#define LKVM_GDB_CMD_H
/*
 * The command half of the gdb stub: one packet in, one reply out, against
 * a target behind an ops table (the VM in gdb/stub.c, a fake in the unit
 * tests).  Threads are numbered from 1 (vCPU index + 1).
 */
#include <stdbool.h>
#include <stddef.h>
#include "lkvm/gdb-arch.h"

struct gdb_target_ops {
	int (*read_regs)(void *t, unsigned int thread, u8 *buf);
	int (*write_regs)(void *t, unsigned int thread, const u8 *buf);
	/* Bytes read (> 0) or -errno; may be short at an unmapped page. */
	int (*read_mem)(void *t, unsigned int thread, u64 addr, u8 *buf, size_t len);
	int (*write_mem)(void *t, unsigned int thread, u64 addr, const u8 *buf, size_t len);
	/* 0, -ENOSYS (unsupported type: empty reply) or -errno. */
	int (*insert_bp)(void *t, enum gdb_bp_type type, u64 addr, u64 kind);
	int (*remove_bp)(void *t, enum gdb_bp_type type, u64 addr, u64 kind);
};

enum gdb_action {
	GDB_ACT_REPLY,		/* send the reply, stay stopped */
	GDB_ACT_RESUME,		/* send nothing; resume (step_thread or all) */
	GDB_ACT_DETACH,		/* send the reply, then detach */
	GDB_ACT_KILL,		/* no reply; stop the VM */
};

struct gdb_session {
	const struct gdb_target_ops *ops;
	void *target;
	const struct gdb_arch_desc *arch;
	unsigned int nr_threads;
	unsigned int g_thread;		/* registers and memory */
	unsigned int c_thread;		/* step; 0: any */
	unsigned int step_thread;	/* with GDB_ACT_RESUME: 0 continue */
	bool no_ack;			/* QStartNoAckMode accepted */
	char stop_reply[96];		/* for '?' */
};

void gdb_session_init(struct gdb_session *s, const struct gdb_target_ops *ops,
		      void *target, const struct gdb_arch_desc *arch,
		      unsigned int nr_threads);
/*
 * Handle one packet (NUL-terminated payload of len bytes).  The reply
 * payload goes to reply (size >= RSP_MAX_PAYLOAD + 1), *reply_len set.
 */
enum gdb_action gdb_handle_packet(struct gdb_session *s, const char *pkt, size_t len,
				  char *reply, size_t *reply_len);
/* The stop reply for thread after stop (or an interrupt when stop is NULL). */
void gdb_format_stop(struct gdb_session *s, unsigned int thread,
		     const struct gdb_stop *stop, const struct gdb_hw_slot *slots);

#endif
