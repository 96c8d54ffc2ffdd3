#ifndef LKVM_SANDBOX_H
#define LKVM_SANDBOX_H

/*
 * The seccomp sandbox of `lkvm run`: every thread runs under a filter that
 * allows only the system calls (and ioctl requests) of its role; anything
 * else ends lkvm with one line naming the thread's role and the call, and
 * exit status LKVM_EXIT_SANDBOX.  On by default; --no-sandbox turns it off.
 *
 * The contract for code that starts threads:
 *   - Create every thread with sandbox_thread_create(), naming its role.
 *     The new thread is confined to that role before its function runs.
 *     A thread cannot call clone() itself once confined: the request goes
 *     to a launcher thread made at sandbox_init(), whose own filter is the
 *     union of all roles, so the new thread gets exactly its role's
 *     allowance however late it starts (device activation on a vCPU, 9p
 *     workers, a reset...).  The new thread inherits the caller's signal
 *     mask, as with pthread_create().
 *   - A new kind of thread whose needs match no role gets a new role: add
 *     it to enum sandbox_role, to role_names[] and to the table in
 *     sandbox.c; its allowance joins the launcher's automatically.
 *   - The main thread confines itself with sandbox_enter(SANDBOX_MAIN) once
 *     set-up is done (set-up opens files, spawns the tap script...).
 *   - Architecture code adds what its vCPUs need (register ioctls...)
 *     through kvm_arch_sandbox_rules().
 *   - List system calls by libseccomp name, never by number: a name that
 *     does not exist on the target architecture (open, poll, epoll_wait on
 *     arm64) is skipped there, so list its modern twin (openat, ppoll,
 *     epoll_pwait) too.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* `lkvm run` exit status when a thread made a forbidden system call. */
#define LKVM_EXIT_SANDBOX 4

enum sandbox_role {
	SANDBOX_MAIN,		/* after set-up: waits for the stop, tears down */
	SANDBOX_SIGNALS,	/* sigwait() for SIGTERM/SIGINT/SIGHUP */
	SANDBOX_VCPU,		/* KVM_RUN, device emulation, activation, reset */
	SANDBOX_IOEVENT,	/* the epoll thread running queue notifications */
	SANDBOX_MGMT,		/* the control socket server */
	SANDBOX_CONSOLE_IN,	/* terminal input to the guest's console */
	SANDBOX_CONSOLE_OUT,	/* virtio-console output */
	SANDBOX_BLK,		/* virtio-blk queue threads: disk I/O */
	SANDBOX_DISK_AIO,	/* libaio completion threads */
	SANDBOX_NET_TAP,	/* tap receive, NIC transmit to a tap (or nowhere) */
	SANDBOX_NET_USER,	/* libslirp's loop, NIC transmit into libslirp */
	SANDBOX_VHOST_CALL,	/* vhost-net / vhost-vsock interrupt threads */
	SANDBOX_9P,		/* 9p workers: file system calls under the share */
	SANDBOX_GDB,		/* the gdb stub's server (--gdb) */
	SANDBOX_LAUNCHER,	/* internal: creates threads for confined ones */
	SANDBOX_NR_ROLES
};

/*
 * Before any thread exists: with enabled, build every role's filter,
 * install the SIGSYS handler and start the launcher.  0, or -errno after
 * printing why (the caller exits; --no-sandbox is the way round).
 * test_role: a role whose threads make one forbidden call right after
 * confinement (the hidden --sandbox-test-violation), or -1.
 */
int sandbox_init(bool enabled, int test_role);
bool sandbox_enabled(void);

/*
 * fn runs in the SIGSYS handler before lkvm exits: async-signal-safe, and
 * only system calls every role allows (write, ioctl TCSETS on stdin).
 */
void sandbox_on_fatal(void (*fn)(void));

/* Confine the calling thread to role (no-op when the sandbox is off). */
void sandbox_enter(enum sandbox_role role);

/* pthread_create() for a thread of the given role (see the contract). */
int sandbox_thread_create(pthread_t *thread, const pthread_attr_t *attr,
			  enum sandbox_role role, void *(*fn)(void *), void *arg);

/* "vcpu", "9p", ...; -1 for a name that is not a role. */
const char *sandbox_role_name(enum sandbox_role role);
int sandbox_role_by_name(const char *name);

/*
 * Architecture extras for one role: NULL-terminated libseccomp names and
 * a 0-terminated list of ioctl requests; NULL when there are none.  Every
 * architecture defines it (x86/sandbox.c); not weak, since a weak default
 * in liblkvm.a would silently win over the archive member.
 */
struct sandbox_rules {
	const char *const *syscalls;
	const unsigned long *ioctls;
};
const struct sandbox_rules *kvm_arch_sandbox_rules(enum sandbox_role role);

#endif
