/*
 * GDB remote protocol commands (GDB manual, "Packets", "General Query
 * Packets", "Stop Reply Packets").  Every argument is parsed strictly: a
 * malformed packet gets E01, a bad address E14, an invalid value E22, and
 * an unknown one the empty reply, which tells gdb it is not supported.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/gdb-cmd.h"
#include "lkvm/gdb-rsp.h"

#define MAX_MEM_CHUNK ((RSP_MAX_PAYLOAD - 8) / 2)

struct reply {
	char *buf;
	size_t len;
};

static void put(struct reply *r, const char *s)
{
	size_t n = strlen(s);

	if (r->len + n > RSP_MAX_PAYLOAD)
		n = RSP_MAX_PAYLOAD - r->len;
	memcpy(r->buf + r->len, s, n);
	r->len += n;
	r->buf[r->len] = 0;
}

static void put_err(struct reply *r, int err)
{
	put(r, err == -EFAULT ? "E14" : err == -EINVAL ? "E22" : "E01");
}

void gdb_session_init(struct gdb_session *s, const struct gdb_target_ops *ops,
		      void *target, const struct gdb_arch_desc *arch,
		      unsigned int nr_threads)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->target = target;
	s->arch = arch;
	s->nr_threads = nr_threads;
	s->g_thread = 1;
	snprintf(s->stop_reply, sizeof(s->stop_reply), "T05thread:01;");
}

void gdb_format_stop(struct gdb_session *s, unsigned int thread,
		     const struct gdb_stop *stop, const struct gdb_hw_slot *slots)
{
	static const char *const watch[] = {
		[GDB_WATCH_WRITE] = "watch", [GDB_WATCH_READ] = "rwatch",
		[GDB_WATCH_ACCESS] = "awatch",
	};
	char why[48] = "";
	int sig = 5;	/* SIGTRAP */

	if (!stop) {
		sig = 2;	/* SIGINT: Ctrl-C */
	} else if (stop->kind == GDB_STOP_SW_BP) {
		snprintf(why, sizeof(why), "swbreak:;");
	} else if (stop->kind == GDB_STOP_HW && stop->hw_slot >= 0) {
		const struct gdb_hw_slot *h = &slots[stop->hw_slot];

		if (h->type == GDB_BP_HW)
			snprintf(why, sizeof(why), "hwbreak:;");
		else
			snprintf(why, sizeof(why), "%s:%llx;", watch[h->type],
				 (unsigned long long)h->addr);
	}
	snprintf(s->stop_reply, sizeof(s->stop_reply), "T%02xthread:%02x;%s", sig, thread, why);
	s->g_thread = thread;
}

/* A thread id: hex, or -1 (all) / 0 (any) where allowed. */
static int parse_thread(const char *p, unsigned int nr, bool allow_any, int *out)
{
	u64 v;

	if (!strcmp(p, "-1") || !strcmp(p, "0")) {
		if (!allow_any)
			return -EINVAL;
		*out = 0;
		return 0;
	}
	if (rsp_parse_hex(&p, &v) || *p || v == 0 || v > nr)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* "ADDR,LEN" followed by end (':' for M). */
static int parse_addr_len(const char **p, u64 *addr, u64 *len, char end)
{
	if (rsp_parse_hex(p, addr) || **p != ',')
		return -EINVAL;
	(*p)++;
	if (rsp_parse_hex(p, len) || **p != end)
		return -EINVAL;
	return 0;
}

static void cmd_read_regs(struct gdb_session *s, struct reply *r)
{
	u8 regs[1024];

	if (s->arch->regs_size > sizeof(regs) ||
	    s->ops->read_regs(s->target, s->g_thread, regs) < 0) {
		put(r, "E01");
		return;
	}
	rsp_hex_encode(regs, s->arch->regs_size, r->buf);
	r->len = 2 * s->arch->regs_size;
}

static void cmd_write_regs(struct gdb_session *s, const char *p, size_t len, struct reply *r)
{
	u8 regs[1024];

	if (len != 2 * s->arch->regs_size || s->arch->regs_size > sizeof(regs) ||
	    rsp_hex_decode(p, s->arch->regs_size, regs)) {
		put(r, "E01");
		return;
	}
	put(r, s->ops->write_regs(s->target, s->g_thread, regs) < 0 ? "E01" : "OK");
}

/* p N / P N=VALUE: one register, through the whole 'g' image. */
static void cmd_one_reg(struct gdb_session *s, const char *p, bool write, struct reply *r)
{
	u8 regs[1024];
	u64 n;
	const struct gdb_reg_slot *slot;

	if (rsp_parse_hex(&p, &n) || (write ? *p != '=' : *p != 0)) {
		put(r, "E01");
		return;
	}
	if (n >= s->arch->nr_regs) {
		put(r, "E22");
		return;
	}
	slot = &s->arch->regs[n];
	if (s->ops->read_regs(s->target, s->g_thread, regs) < 0) {
		put(r, "E01");
		return;
	}
	if (!write) {
		rsp_hex_encode(regs + slot->offset, slot->size, r->buf);
		r->len = 2 * slot->size;
		return;
	}
	p++;
	if (strlen(p) != 2u * slot->size || rsp_hex_decode(p, slot->size, regs + slot->offset)) {
		put(r, "E01");
		return;
	}
	put(r, s->ops->write_regs(s->target, s->g_thread, regs) < 0 ? "E01" : "OK");
}

static void cmd_read_mem(struct gdb_session *s, const char *p, struct reply *r)
{
	u8 data[MAX_MEM_CHUNK];
	u64 addr, len;
	int n;

	if (parse_addr_len(&p, &addr, &len, 0)) {
		put(r, "E01");
		return;
	}
	if (len == 0) {
		return;		/* empty reply = zero bytes read */
	}
	/* gdb asks for no more than PacketSize allows; be safe anyway. */
	if (len > MAX_MEM_CHUNK)
		len = MAX_MEM_CHUNK;
	n = s->ops->read_mem(s->target, s->g_thread, addr, data, len);
	if (n <= 0) {
		put(r, "E14");
		return;
	}
	rsp_hex_encode(data, (size_t)n, r->buf);
	r->len = 2 * (size_t)n;
}

static void cmd_write_mem(struct gdb_session *s, const char *p, struct reply *r)
{
	u8 data[MAX_MEM_CHUNK];
	u64 addr, len;
	int n;

	if (parse_addr_len(&p, &addr, &len, ':') || len > MAX_MEM_CHUNK ||
	    strlen(p + 1) != 2 * len || rsp_hex_decode(p + 1, len, data)) {
		put(r, "E01");
		return;
	}
	n = len ? s->ops->write_mem(s->target, s->g_thread, addr, data, len) : 0;
	if (n < 0)
		put_err(r, n);
	else
		put(r, "OK");
}

static void cmd_breakpoint(struct gdb_session *s, const char *p, bool insert, struct reply *r)
{
	u64 type, addr, kind;
	int ret;

	if (rsp_parse_hex(&p, &type) || *p++ != ',' || rsp_parse_hex(&p, &addr) ||
	    *p++ != ',' || rsp_parse_hex(&p, &kind) || (*p && *p != ';')) {
		put(r, "E01");
		return;
	}
	if (type > GDB_WATCH_ACCESS)
		return;		/* unsupported: empty reply */
	ret = insert ? s->ops->insert_bp(s->target, (enum gdb_bp_type)type, addr, kind)
		     : s->ops->remove_bp(s->target, (enum gdb_bp_type)type, addr, kind);
	if (ret == -ENOSYS)
		return;
	if (ret < 0)
		put_err(r, ret);
	else
		put(r, "OK");
}

static void cmd_set_thread(struct gdb_session *s, const char *p, struct reply *r)
{
	int t;

	if ((*p != 'g' && *p != 'c') || parse_thread(p + 1, s->nr_threads, true, &t)) {
		put(r, "E01");
		return;
	}
	if (*p == 'g')
		s->g_thread = t ? (unsigned int)t : 1;
	else
		s->c_thread = (unsigned int)t;
	put(r, "OK");
}

/* qXfer:features:read:target.xml:OFFSET,LENGTH */
static void cmd_xfer_features(struct gdb_session *s, const char *p, struct reply *r)
{
	const char *xml = s->arch->target_xml;
	size_t total = strlen(xml);
	u64 off, len;

	if (strncmp(p, "target.xml:", 11)) {
		put(r, "E00");		/* no such annex */
		return;
	}
	p += 11;
	if (parse_addr_len(&p, &off, &len, 0)) {
		put(r, "E01");
		return;
	}
	if (off >= total) {
		put(r, "l");
		return;
	}
	/* The reply is framed later, where '$', '#', '}' get escaped. */
	len = MIN(len, (u64)(RSP_MAX_PAYLOAD / 2 - 1));
	len = MIN(len, (u64)(total - off));
	r->buf[0] = off + len < total ? 'm' : 'l';
	memcpy(r->buf + 1, xml + off, len);
	r->len = 1 + len;
}

static void cmd_thread_info(struct gdb_session *s, struct reply *r)
{
	char id[16];

	put(r, "m");
	for (unsigned int i = 1; i <= s->nr_threads; i++) {
		snprintf(id, sizeof(id), i > 1 ? ",%x" : "%x", i);
		put(r, id);
	}
}

static void cmd_query(struct gdb_session *s, const char *p, struct reply *r)
{
	char buf[96];

	if (!strncmp(p, "qSupported", 10)) {
		snprintf(buf, sizeof(buf), "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;"
			 "QStartNoAckMode+;vContSupported+", RSP_MAX_PAYLOAD);
		put(r, buf);
	} else if (!strncmp(p, "qXfer:features:read:", 20)) {
		cmd_xfer_features(s, p + 20, r);
	} else if (!strcmp(p, "qfThreadInfo")) {
		cmd_thread_info(s, r);
	} else if (!strcmp(p, "qsThreadInfo")) {
		put(r, "l");
	} else if (!strcmp(p, "qC")) {
		snprintf(buf, sizeof(buf), "QC%x", s->g_thread);
		put(r, buf);
	} else if (!strcmp(p, "qAttached")) {
		put(r, "1");		/* detaching leaves the guest running */
	} else if (!strncmp(p, "qThreadExtraInfo,", 17)) {
		int t;
		char text[32];

		if (parse_thread(p + 17, s->nr_threads, false, &t)) {
			put(r, "E01");
			return;
		}
		snprintf(text, sizeof(text), "vCPU %d", t - 1);
		rsp_hex_encode((const u8 *)text, strlen(text), r->buf);
		r->len = 2 * strlen(text);
	}
	/* Anything else: empty reply, "not supported". */
}

/* c [ADDR] / s [ADDR]: resuming at another address is not offered. */
static enum gdb_action cmd_resume(struct gdb_session *s, const char *p, bool step,
				  struct reply *r)
{
	if (*p) {
		put(r, "E01");
		return GDB_ACT_REPLY;
	}
	s->step_thread = step ? (s->c_thread ? s->c_thread : s->g_thread) : 0;
	return GDB_ACT_RESUME;
}

/*
 * vCont;ACTION[:TID];...: one thread may step (s/S), everything else
 * continues (c/C); signals are not delivered to a VM and are ignored.
 */
static enum gdb_action cmd_vcont(struct gdb_session *s, const char *p, struct reply *r)
{
	unsigned int step = 0;

	if (!strcmp(p, "?")) {
		put(r, "vCont;c;C;s;S");
		return GDB_ACT_REPLY;
	}
	while (*p == ';') {
		char a = *++p;
		u64 sig;
		int t = 0;

		if (a != 'c' && a != 'C' && a != 's' && a != 'S')
			goto bad;
		p++;
		if ((a == 'C' || a == 'S') && rsp_parse_hex(&p, &sig))
			goto bad;
		if (*p == ':') {
			char id[24];
			size_t n = strcspn(++p, ";");

			if (n >= sizeof(id))
				goto bad;
			memcpy(id, p, n);
			id[n] = 0;
			if (parse_thread(id, s->nr_threads, true, &t))
				goto bad;
			p += n;
		}
		if ((a == 's' || a == 'S') && !step)
			step = t ? (unsigned int)t : s->g_thread;
	}
	if (*p)
		goto bad;
	s->step_thread = step;
	return GDB_ACT_RESUME;
bad:
	put(r, "E01");
	return GDB_ACT_REPLY;
}

enum gdb_action gdb_handle_packet(struct gdb_session *s, const char *pkt, size_t len,
				  char *reply, size_t *reply_len)
{
	struct reply r = { .buf = reply, .len = 0 };
	enum gdb_action act = GDB_ACT_REPLY;
	int t;

	reply[0] = 0;
	if (len == 0 || strlen(pkt) != len) {	/* empty, or a NUL inside */
		put(&r, len ? "E01" : "");
		*reply_len = r.len;
		return act;
	}
	switch (pkt[0]) {
	case '?': put(&r, s->stop_reply); break;
	case 'g': if (len == 1) cmd_read_regs(s, &r); else put(&r, "E01"); break;
	case 'G': cmd_write_regs(s, pkt + 1, len - 1, &r); break;
	case 'p': cmd_one_reg(s, pkt + 1, false, &r); break;
	case 'P': cmd_one_reg(s, pkt + 1, true, &r); break;
	case 'm': cmd_read_mem(s, pkt + 1, &r); break;
	case 'M': cmd_write_mem(s, pkt + 1, &r); break;
	case 'Z': cmd_breakpoint(s, pkt + 1, true, &r); break;
	case 'z': cmd_breakpoint(s, pkt + 1, false, &r); break;
	case 'H': cmd_set_thread(s, pkt + 1, &r); break;
	case 'T':
		put(&r, parse_thread(pkt + 1, s->nr_threads, false, &t) ? "E01" : "OK");
		break;
	case 'c': act = cmd_resume(s, pkt + 1, false, &r); break;
	case 's': act = cmd_resume(s, pkt + 1, true, &r); break;
	case 'D': put(&r, "OK"); act = GDB_ACT_DETACH; break;
	case 'k': act = GDB_ACT_KILL; break;
	case 'q': cmd_query(s, pkt, &r); break;
	case 'Q':
		if (!strcmp(pkt, "QStartNoAckMode")) {
			put(&r, "OK");
			s->no_ack = true;
		}
		break;
	case 'v':
		if (!strncmp(pkt, "vCont", 5) && (pkt[5] == ';' || pkt[5] == '?'))
			act = cmd_vcont(s, pkt + 5, &r);
		else if (!strncmp(pkt, "vKill", 5))
			act = GDB_ACT_KILL;
		break;
	default:
		break;		/* not supported */
	}
	*reply_len = r.len;
	return act;
}
