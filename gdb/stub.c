/*
 * The gdb stub's server: a listening socket, one connection at a time, and
 * the VM as the target of gdb/commands.c.  Stopping the VM is lkvm's pause
 * (kvm_cpus_pause); every vCPU ioctl runs on the vCPU's thread through
 * kvm_cpu_run_on(); guest memory is reached only through kvm_gpa_to_hva()
 * after the arch hook translated the virtual address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lkvm/gdb.h"
#include "lkvm/gdb-arch.h"
#include "lkvm/gdb-cmd.h"
#include "lkvm/gdb-rsp.h"
#include "lkvm/kvm-cpu.h"
#include "lkvm/log.h"
#include "lkvm/sandbox.h"

#define MAX_SW_BPS 64
#define MAX_HW_SLOTS 8
#define PAGE 4096ULL

struct sw_bp {
	u64 addr, gpa;
	u8 orig[8];
	size_t len;
};

static struct gdb_stub {
	struct kvm *kvm;
	int listen_fd, conn_fd;
	int wake[2];			/* vCPU threads -> stub thread: a stop */
	char where[80];

	pthread_mutex_t lock;		/* guards the fields below against vCPU threads */
	bool attached, running, stop_pending;
	unsigned int stop_thread;
	bool stop_is_interrupt;
	struct gdb_stop stop;
	struct sw_bp bps[MAX_SW_BPS];
	unsigned int nr_bps;
	struct gdb_hw_slot hw[MAX_HW_SLOTS];

	struct gdb_session sess;	/* stub thread only */
	struct rsp_reader rd;
	char out[2 * RSP_MAX_PAYLOAD + 8];
	int out_len;
} stub = { .lock = PTHREAD_MUTEX_INITIALIZER, .listen_fd = -1, .conn_fd = -1 };

int gdb_parse_addr(const char *spec, char *host, size_t host_size, unsigned int *port)
{
	const char *colon = strrchr(spec, ':');
	const char *p = colon ? colon + 1 : spec;
	char *end;
	unsigned long v;
	struct in_addr a;

	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || end == p || *end || v == 0 || v > 65535)
		return -EINVAL;
	if (colon) {
		size_t n = (size_t)(colon - spec);

		if (n == 0 || n >= host_size)
			return -EINVAL;
		memcpy(host, spec, n);
		host[n] = 0;
	} else {
		snprintf(host, host_size, "127.0.0.1");
	}
	if (inet_pton(AF_INET, host, &a) != 1)
		return -EINVAL;
	*port = (unsigned int)v;
	return 0;
}

/* --- vCPU calls: each runs on the vCPU's own thread ---------------------- */

static struct kvm_cpu *thread_cpu(unsigned int thread)
{
	return thread >= 1 && thread <= stub.kvm->nr_cpus ? stub.kvm->cpus[thread - 1] : NULL;
}

static int call_read_regs(struct kvm_cpu *cpu, void *buf) { return gdb_arch_read_regs(cpu, buf); }
static int call_write_regs(struct kvm_cpu *cpu, void *buf) { return gdb_arch_write_regs(cpu, buf); }

struct xlate { u64 gva, gpa; };
static int call_translate(struct kvm_cpu *cpu, void *arg)
{
	struct xlate *x = arg;

	return gdb_arch_translate(cpu, x->gva, &x->gpa);
}

struct debug_cfg { bool enable, sw, step; };
static int call_set_debug(struct kvm_cpu *cpu, void *arg)
{
	struct debug_cfg *c = arg;

	return gdb_arch_set_debug(cpu, c->enable, c->sw, c->step, stub.hw);
}

/* --- the target ops --------------------------------------------------------- */

static int t_read_regs(void *t, unsigned int thread, u8 *buf)
{
	struct kvm_cpu *cpu = thread_cpu(thread);

	return cpu ? kvm_cpu_run_on(cpu, call_read_regs, buf) : -ESRCH;
}

static int t_write_regs(void *t, unsigned int thread, const u8 *buf)
{
	struct kvm_cpu *cpu = thread_cpu(thread);

	return cpu ? kvm_cpu_run_on(cpu, call_write_regs, (void *)buf) : -ESRCH;
}

/* Host pointer for up to len bytes at gva, not crossing a page; *n set. */
static u8 *map_virt(unsigned int thread, u64 gva, size_t len, size_t *n, u64 *gpa)
{
	struct kvm_cpu *cpu = thread_cpu(thread);
	struct xlate x = { .gva = gva & ~(PAGE - 1) };

	if (!cpu || kvm_cpu_run_on(cpu, call_translate, &x))
		return NULL;
	*n = MIN(len, (size_t)(PAGE - (gva & (PAGE - 1))));
	*gpa = x.gpa + (gva & (PAGE - 1));
	return kvm_gpa_to_hva(stub.kvm, *gpa, *n);
}

/*
 * A write into guest code (a breakpoint, gdb's M) must reach the guest's
 * instruction fetch: a no-op on x86; on arm64 the data cache is cleaned
 * and the instruction cache invalidated for those bytes.
 */
static void wrote_code(u8 *p, size_t len)
{
	__builtin___clear_cache((char *)p, (char *)p + len);
}

static int access_mem(unsigned int thread, u64 addr, u8 *buf, size_t len, bool write)
{
	size_t done = 0;

	while (done < len) {
		size_t n;
		u64 gpa;
		u8 *p = map_virt(thread, addr + done, len - done, &n, &gpa);

		if (!p)
			break;
		if (write) {
			memcpy(p, buf + done, n);
			wrote_code(p, n);
		} else
			memcpy(buf + done, p, n);
		done += n;
	}
	return done ? (int)done : -EFAULT;
}

static int t_read_mem(void *t, unsigned int thread, u64 addr, u8 *buf, size_t len)
{
	return access_mem(thread, addr, buf, len, false);
}

static int t_write_mem(void *t, unsigned int thread, u64 addr, const u8 *buf, size_t len)
{
	int n = access_mem(thread, addr, (u8 *)buf, len, true);

	return n == (int)len ? n : -EFAULT;
}

static struct sw_bp *find_bp(u64 addr)
{
	for (unsigned int i = 0; i < stub.nr_bps; i++)
		if (stub.bps[i].addr == addr)
			return &stub.bps[i];
	return NULL;
}

static int insert_sw_bp(u64 addr)
{
	size_t len, n;
	const u8 *insn = gdb_arch_sw_bp(&len);
	struct sw_bp b = { .addr = addr, .len = len };
	u8 *p;

	if (find_bp(addr))
		return 0;
	if (stub.nr_bps >= MAX_SW_BPS)
		return -ENOSPC;
	p = map_virt(stub.sess.g_thread, addr, len, &n, &b.gpa);
	if (!p || n < len)
		return -EFAULT;
	memcpy(b.orig, p, len);
	memcpy(p, insn, len);
	wrote_code(p, len);
	pthread_mutex_lock(&stub.lock);
	stub.bps[stub.nr_bps++] = b;
	pthread_mutex_unlock(&stub.lock);
	return 0;
}

static void restore_bp(const struct sw_bp *b)
{
	u8 *p = kvm_gpa_to_hva(stub.kvm, b->gpa, b->len);

	if (p) {
		memcpy(p, b->orig, b->len);
		wrote_code(p, b->len);
	}
}

static int remove_sw_bp(u64 addr)
{
	struct sw_bp *b = find_bp(addr);

	if (!b)
		return 0;
	restore_bp(b);
	pthread_mutex_lock(&stub.lock);
	*b = stub.bps[--stub.nr_bps];
	pthread_mutex_unlock(&stub.lock);
	return 0;
}

static int hw_slot(enum gdb_bp_type type, u64 addr, u64 len, bool want_free)
{
	for (unsigned int i = 0; i < gdb_arch.nr_hw_slots && i < MAX_HW_SLOTS; i++) {
		const struct gdb_hw_slot *h = &stub.hw[i];

		if (want_free ? !h->used
			      : h->used && h->type == type && h->addr == addr && h->len == len)
			return (int)i;
	}
	return -1;
}

static int t_insert_bp(void *t, enum gdb_bp_type type, u64 addr, u64 kind)
{
	int i;

	if (type == GDB_BP_SW)
		return insert_sw_bp(addr);
	if (!gdb_arch_hw_ok(type, addr, kind))
		return -EINVAL;
	if (hw_slot(type, addr, kind, false) >= 0)
		return 0;
	i = hw_slot(type, addr, kind, true);
	if (i < 0)
		return -ENOSPC;
	pthread_mutex_lock(&stub.lock);
	stub.hw[i] = (struct gdb_hw_slot){ .used = true, .type = type, .addr = addr, .len = kind };
	pthread_mutex_unlock(&stub.lock);
	return 0;
}

static int t_remove_bp(void *t, enum gdb_bp_type type, u64 addr, u64 kind)
{
	int i;

	if (type == GDB_BP_SW)
		return remove_sw_bp(addr);
	i = hw_slot(type, addr, kind, false);
	if (i >= 0) {
		pthread_mutex_lock(&stub.lock);
		stub.hw[i].used = false;
		pthread_mutex_unlock(&stub.lock);
	}
	return 0;
}

static const struct gdb_target_ops vm_ops = {
	.read_regs = t_read_regs, .write_regs = t_write_regs,
	.read_mem = t_read_mem, .write_mem = t_write_mem,
	.insert_bp = t_insert_bp, .remove_bp = t_remove_bp,
};

/* --- stopping and resuming ---------------------------------------------------- */

bool gdb_vcpu_debug_exit(struct kvm_cpu *cpu)
{
	struct gdb_stop st;

	if (!stub.kvm)
		return false;
	pthread_mutex_lock(&stub.lock);
	gdb_arch_decode_stop(cpu, stub.hw, &st);
	if (st.kind == GDB_STOP_SW_BP && !find_bp(st.pc)) {
		if (find_bp(st.pc - 1)) {	/* reported after the instruction */
			st.pc--;
			gdb_arch_set_pc(cpu, st.pc);
		} else {
			/* The guest's own int3 (kprobes, text patching...). */
			pthread_mutex_unlock(&stub.lock);
			gdb_arch_reinject_sw_bp(cpu, stub.hw);
			return true;
		}
	}
	/*
	 * A second vCPU reporting while the VM is already stopping keeps its
	 * state: at a breakpoint its pc still points at the int3, which it
	 * executes again on resume if the breakpoint is still there.
	 */
	if (stub.attached && stub.running && !stub.stop_pending) {
		stub.stop_pending = true;
		stub.stop_is_interrupt = false;
		stub.stop = st;
		stub.stop_thread = cpu->id + 1;
		kvm_cpus_pause(cpu->kvm);
		if (write(stub.wake[1], "s", 1) < 0)
			pr_debug("gdb: wake-up: %s", strerror(errno));
	}
	pthread_mutex_unlock(&stub.lock);
	return true;
}

static void set_debug_all(bool enable, unsigned int step_thread)
{
	struct debug_cfg c = { .enable = enable, .sw = stub.nr_bps > 0 };

	for (unsigned int i = 0; i < stub.kvm->nr_cpus; i++) {
		int ret;

		c.step = enable && step_thread == i + 1;
		ret = kvm_cpu_run_on(stub.kvm->cpus[i], call_set_debug, &c);
		if (ret < 0 && ret != -ESRCH)
			pr_err("gdb: KVM_SET_GUEST_DEBUG on vCPU %u: %s", i, strerror(-ret));
	}
}

static void drain_wake(void)
{
	char buf[64];

	while (read(stub.wake[0], buf, sizeof(buf)) > 0)
		;
}

static void resume_vm(unsigned int step_thread)
{
	set_debug_all(true, step_thread);
	drain_wake();
	pthread_mutex_lock(&stub.lock);
	stub.stop_pending = false;
	stub.running = true;
	pthread_mutex_unlock(&stub.lock);
	kvm_cpus_resume(stub.kvm);
}

static void stop_vm(void)
{
	pthread_mutex_lock(&stub.lock);
	kvm_cpus_pause(stub.kvm);
	stub.running = false;
	pthread_mutex_unlock(&stub.lock);
}

/* --- the connection ------------------------------------------------------------- */

static void send_raw(const char *buf, size_t len)
{
	while (len && stub.conn_fd >= 0) {
		ssize_t n = write(stub.conn_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void send_packet(const char *payload, size_t len)
{
	stub.out_len = rsp_frame(stub.out, sizeof(stub.out), payload, len);
	if (stub.out_len > 0)
		send_raw(stub.out, (size_t)stub.out_len);
}

/* The VM stopped (a vCPU's debug exit or Ctrl-C): tell gdb. */
static void report_stop(void)
{
	pthread_mutex_lock(&stub.lock);
	stub.running = false;
	gdb_format_stop(&stub.sess, stub.stop_thread,
			stub.stop_is_interrupt ? NULL : &stub.stop, stub.hw);
	pthread_mutex_unlock(&stub.lock);
	send_packet(stub.sess.stop_reply, strlen(stub.sess.stop_reply));
}

static void interrupt(void)
{
	bool report;

	pthread_mutex_lock(&stub.lock);
	report = stub.running;
	if (stub.running && !stub.stop_pending) {
		stub.stop_pending = true;
		stub.stop_is_interrupt = true;
		stub.stop_thread = stub.sess.g_thread;
		kvm_cpus_pause(stub.kvm);
	}
	pthread_mutex_unlock(&stub.lock);
	if (report)
		report_stop();
}

/* Leave the guest running without breakpoints or debug registers. */
static void detach(void)
{
	pthread_mutex_lock(&stub.lock);
	for (unsigned int i = 0; i < stub.nr_bps; i++)
		restore_bp(&stub.bps[i]);
	stub.nr_bps = 0;
	memset(stub.hw, 0, sizeof(stub.hw));
	stub.attached = false;
	pthread_mutex_unlock(&stub.lock);
	set_debug_all(false, 0);
	pthread_mutex_lock(&stub.lock);
	stub.running = true;
	pthread_mutex_unlock(&stub.lock);
	kvm_cpus_resume(stub.kvm);
}

/* One packet; false when the session is over. */
static bool handle_packet(void)
{
	static char reply[RSP_MAX_PAYLOAD + 1];
	size_t reply_len;
	enum gdb_action act;

	if (!stub.sess.no_ack)
		send_raw("+", 1);
	if (stub.running)
		return true;	/* all-stop: nothing but Ctrl-C while running */
	act = gdb_handle_packet(&stub.sess, (const char *)stub.rd.buf, stub.rd.len,
				reply, &reply_len);
	switch (act) {
	case GDB_ACT_REPLY:
		send_packet(reply, reply_len);
		return true;
	case GDB_ACT_RESUME:
		resume_vm(stub.sess.step_thread);
		return true;
	case GDB_ACT_DETACH:
		send_packet(reply, reply_len);
		detach();
		pr_info("gdb: debugger detached; the guest runs on");
		return false;
	case GDB_ACT_KILL:
		pr_info("gdb: kill request: stopping the guest");
		kvm_request_stop(stub.kvm, VM_STOP_USER);
		return false;
	}
	return true;
}

static bool handle_input(void)
{
	u8 buf[4096];
	ssize_t n = read(stub.conn_fd, buf, sizeof(buf));

	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++) {
		switch (rsp_feed(&stub.rd, buf[i])) {
		case RSP_PACKET:
			if (!handle_packet())
				return false;
			break;
		case RSP_BAD_PACKET:
			send_raw("-", 1);
			break;
		case RSP_INTERRUPT:
			interrupt();
			break;
		case RSP_NAK:
			if (stub.out_len > 0)
				send_raw(stub.out, (size_t)stub.out_len);
			break;
		default:
			break;
		}
	}
	return true;
}

static void serve(int fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = stub.wake[0], .events = POLLIN } };
	bool killed = false;

	stub.conn_fd = fd;
	rsp_reader_init(&stub.rd);
	stub.out_len = 0;
	gdb_session_init(&stub.sess, &vm_ops, NULL, &gdb_arch, stub.kvm->nr_cpus);
	/* gdb expects a stopped target when it connects. */
	stop_vm();
	pthread_mutex_lock(&stub.lock);
	stub.attached = true;
	stub.stop_pending = false;
	pthread_mutex_unlock(&stub.lock);
	while (!kvm_stopping(stub.kvm)) {
		if (poll(p, 2, 500) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			drain_wake();
			if (stub.running && stub.stop_pending)
				report_stop();
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!handle_input()) {
				killed = kvm_stopping(stub.kvm);
				break;
			}
		}
	}
	if (stub.attached && !killed)
		detach();		/* connection lost: let the guest run */
	close(fd);
	stub.conn_fd = -1;
}

static void *stub_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "gdb");
	while (!kvm_stopping(stub.kvm)) {
		int fd = accept(stub.listen_fd, NULL, NULL), one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			pr_err("gdb: accept: %s", strerror(errno));
			break;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pr_info("gdb: debugger connected on %s", stub.where);
		serve(fd);
	}
	return NULL;
}

int gdb_stub_start(struct kvm *kvm, const char *spec)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	unsigned int port;
	int one = 1;
	pthread_t t;

	if (gdb_parse_addr(spec, host, sizeof(host), &port)) {
		pr_err("--gdb '%s': give [HOST:]PORT, e.g. 1234 or 127.0.0.1:1234", spec);
		return -EINVAL;
	}
	inet_pton(AF_INET, host, &sa.sin_addr);
	sa.sin_port = htons((u16)port);
	stub.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (stub.listen_fd < 0 || pipe2(stub.wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	setsockopt(stub.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(stub.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(stub.listen_fd, 1) < 0) {
		int err = errno;

		pr_err("--gdb %s:%u: %s", host, port, strerror(err));
		close(stub.listen_fd);
		return -err;
	}
	snprintf(stub.where, sizeof(stub.where), "%s:%u", host, port);
	stub.kvm = kvm;
	if (sandbox_thread_create(&t, NULL, SANDBOX_GDB, stub_thread, NULL)) {
		stub.kvm = NULL;
		return -EAGAIN;
	}
	pthread_detach(t);
	pr_info("gdb: listening on %s (gdb: target remote %s)", stub.where, stub.where);
	return 0;
}
