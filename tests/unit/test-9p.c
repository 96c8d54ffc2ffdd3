/*
 * virtio-9p without KVM: the 9P codec, the file server driven by crafted
 * messages on a temporary export (operations, then escape attempts and
 * malformed input, with and without openat2), and the virtio device on
 * fake guest RAM.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>
#include "lkvm/kvm.h"
#include "lkvm/virtio.h"
#include "lkvm/virtio-9p.h"
#include "unit.h"

/* ---- the temporary tree: base/export is shared, base/outside is not ---- */

static char base[64], root[128], outside[128];

static void path_of(char *buf, size_t n, const char *rel)
{
	snprintf(buf, n, "%s/%s", root, rel);
}

static void host_write(const char *rel, const void *data, size_t len)
{
	char p[512];
	int fd;

	path_of(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(p);
		exit(2);
	}
	close(fd);
}

/* Bytes of rel into buf, or -1. */
static ssize_t host_read(const char *rel, void *buf, size_t cap)
{
	char p[512];
	ssize_t n;
	int fd;

	path_of(p, sizeof(p), rel);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, cap);
	close(fd);
	return n;
}

static bool host_exists(const char *rel)
{
	char p[512];
	struct stat st;

	path_of(p, sizeof(p), rel);
	return lstat(p, &st) == 0;
}

static void rm_tree(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void tree_setup(void)
{
	char p[256];

	strcpy(base, "/tmp/lkvm-9p-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(root, sizeof(root), "%s/export", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	if (mkdir(root, 0755) || mkdir(outside, 0755)) {
		perror("mkdir");
		exit(2);
	}
	snprintf(p, sizeof(p), "%s/secret", outside);
	FILE *f = fopen(p, "w");
	fputs("outside-data", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/passwd", outside);
	f = fopen(p, "w");
	fputs("outside-passwd", f);
	fclose(f);
}

/* Empty the export between cases. */
static void export_clear(void)
{
	rm_tree(root);
	if (mkdir(root, 0755)) {
		perror("mkdir");
		exit(2);
	}
}

/* ---- the client side: build T-messages, check R-messages ---- */

static struct p9_fs fs;
static bool fs_up;
static u8 req[70000], rep[P9_MAX_MSIZE];
static u32 reply_cap = P9_MAX_MSIZE;
static struct p9_out tm;
static struct p9_in R;
static u8 sent_type;
static u16 next_tag = 1, sent_tag;

static void fs_start(bool readonly, bool openat2)
{
	if (fs_up)
		p9_fs_destroy(&fs);
	if (p9_fs_init(&fs, root, readonly)) {
		fprintf(stderr, "p9_fs_init failed\n");
		exit(2);
	}
	if (!openat2)
		fs.use_openat2 = false;
	fs_up = true;
	reply_cap = P9_MAX_MSIZE;
}

static void T(u8 type)
{
	p9_out_init(&tm, req, sizeof(req));
	sent_type = type;
	sent_tag = next_tag++;
	p9_msg_begin(&tm, type, sent_tag);
}

/* Check the reply frame; 0 for the expected R-type, the errno of an Rlerror. */
static int check_reply(u32 len)
{
	u32 size;
	u8 type;
	u16 tag;

	p9_in_init(&R, rep, len);
	size = p9_get_u32(&R);
	type = p9_get_u8(&R);
	tag = p9_get_u16(&R);
	CHECK(!R.bad);
	CHECK_EQ(size, len);
	if (R.bad || size != len)
		return -1;
	if (type == P9_RLERROR) {
		u32 err = p9_get_u32(&R);

		CHECK(!R.bad);
		CHECK_EQ(len, 11);
		return (int)err;
	}
	CHECK_EQ(type, sent_type + 1);
	CHECK_EQ(tag, sent_tag);
	return 0;
}

static int rpc_len(u32 len)
{
	return check_reply(p9_handle(&fs, req, len, rep, reply_cap));
}

static int rpc(void)
{
	u32 len = p9_msg_end(&tm);

	CHECK(len);
	return rpc_len(len);
}

/*
 * The T-messages, each laid out once: msg_X() builds one in tm (the
 * virtio tests send it through the queue), t_X() sends it to fs.
 */
static void msg_version(u32 msize, const char *v)
{
	T(P9_TVERSION);
	p9_put_u32(&tm, msize);
	p9_put_str(&tm, v);
}

static void msg_attach(u32 fid, const char *uname)
{
	T(P9_TATTACH);
	p9_put_u32(&tm, fid);
	p9_put_u32(&tm, P9_NOFID);
	p9_put_str(&tm, uname);
	p9_put_str(&tm, "");
	p9_put_u32(&tm, 0);
}

static void msg_walk(u32 fid, u32 newfid, unsigned int n, const char *const *names)
{
	T(P9_TWALK);
	p9_put_u32(&tm, fid);
	p9_put_u32(&tm, newfid);
	p9_put_u16(&tm, (u16)n);
	for (unsigned int i = 0; i < n; i++)
		p9_put_str(&tm, names[i]);
}

static void msg_flush(u16 oldtag)
{
	T(P9_TFLUSH);
	p9_put_u16(&tm, oldtag);
}

/* Tclunk, Tremove, Tstatfs, Treadlink, Tfsync (without datasync): fid[4]. */
static void msg_fid_only(u8 type, u32 fid)
{
	T(type);
	p9_put_u32(&tm, fid);
}

static void msg_lopen(u32 fid, u32 flags)
{
	T(P9_TLOPEN);
	p9_put_u32(&tm, fid);
	p9_put_u32(&tm, flags);
}

static void msg_lcreate(u32 fid, const char *name, u32 flags, u32 mode)
{
	T(P9_TLCREATE);
	p9_put_u32(&tm, fid);
	p9_put_str(&tm, name);
	p9_put_u32(&tm, flags);
	p9_put_u32(&tm, mode);
	p9_put_u32(&tm, 0);
}

static void msg_write(u32 fid, u64 off, const void *buf, u32 n)
{
	T(P9_TWRITE);
	p9_put_u32(&tm, fid);
	p9_put_u64(&tm, off);
	p9_put_u32(&tm, n);
	p9_put_bytes(&tm, buf, n);
}

/* Tread and Treaddir: fid[4] offset[8] count[4]. */
static void msg_read(u8 type, u32 fid, u64 off, u32 count)
{
	T(type);
	p9_put_u32(&tm, fid);
	p9_put_u64(&tm, off);
	p9_put_u32(&tm, count);
}

static void msg_getattr(u32 fid)
{
	T(P9_TGETATTR);
	p9_put_u32(&tm, fid);
	p9_put_u64(&tm, P9_GETATTR_BASIC);
}

static void msg_setattr(u32 fid, u32 valid, u32 mode, u64 size, u64 mtime)
{
	T(P9_TSETATTR);
	p9_put_u32(&tm, fid);
	p9_put_u32(&tm, valid);
	p9_put_u32(&tm, mode);
	p9_put_u32(&tm, 0);
	p9_put_u32(&tm, 0);
	p9_put_u64(&tm, size);
	p9_put_u64(&tm, 0);
	p9_put_u64(&tm, 0);
	p9_put_u64(&tm, mtime);
	p9_put_u64(&tm, 0);
}

static void msg_mkdir(u32 dfid, const char *name, u32 mode)
{
	T(P9_TMKDIR);
	p9_put_u32(&tm, dfid);
	p9_put_str(&tm, name);
	p9_put_u32(&tm, mode);
	p9_put_u32(&tm, 0);
}

static void msg_symlink(u32 dfid, const char *name, const char *target)
{
	T(P9_TSYMLINK);
	p9_put_u32(&tm, dfid);
	p9_put_str(&tm, name);
	p9_put_str(&tm, target);
	p9_put_u32(&tm, 0);
}

static void msg_mknod(u32 dfid, const char *name, u32 mode, u32 major, u32 minor)
{
	T(P9_TMKNOD);
	p9_put_u32(&tm, dfid);
	p9_put_str(&tm, name);
	p9_put_u32(&tm, mode);
	p9_put_u32(&tm, major);
	p9_put_u32(&tm, minor);
	p9_put_u32(&tm, 0);
}

static void msg_link(u32 dfid, u32 fid, const char *name)
{
	T(P9_TLINK);
	p9_put_u32(&tm, dfid);
	p9_put_u32(&tm, fid);
	p9_put_str(&tm, name);
}

static void msg_renameat(u32 odfid, const char *oname, u32 ndfid, const char *nname)
{
	T(P9_TRENAMEAT);
	p9_put_u32(&tm, odfid);
	p9_put_str(&tm, oname);
	p9_put_u32(&tm, ndfid);
	p9_put_str(&tm, nname);
}

static void msg_rename(u32 fid, u32 dfid, const char *name)
{
	T(P9_TRENAME);
	p9_put_u32(&tm, fid);
	p9_put_u32(&tm, dfid);
	p9_put_str(&tm, name);
}

static void msg_unlinkat(u32 dfid, const char *name, u32 flags)
{
	T(P9_TUNLINKAT);
	p9_put_u32(&tm, dfid);
	p9_put_str(&tm, name);
	p9_put_u32(&tm, flags);
}

/* Tlock (flags 0) and Tgetlock: a byte range of fid, for proc_id of client. */
static void msg_lock(u8 type, u32 fid, u8 lock_type, u64 start, u64 length, u32 proc_id,
		     const char *client)
{
	T(type);
	p9_put_u32(&tm, fid);
	p9_put_u8(&tm, lock_type);
	if (type == P9_TLOCK)
		p9_put_u32(&tm, 0);
	p9_put_u64(&tm, start);
	p9_put_u64(&tm, length);
	p9_put_u32(&tm, proc_id);
	p9_put_str(&tm, client);
}

static void msg_xattrwalk(u32 fid, u32 newfid, const char *name)
{
	T(P9_TXATTRWALK);
	p9_put_u32(&tm, fid);
	p9_put_u32(&tm, newfid);
	p9_put_str(&tm, name);
}

static void msg_xattrcreate(u32 fid, const char *name, u64 size, u32 flags)
{
	T(P9_TXATTRCREATE);
	p9_put_u32(&tm, fid);
	p9_put_str(&tm, name);
	p9_put_u64(&tm, size);
	p9_put_u32(&tm, flags);
}

static int t_version(u32 msize, const char *v, u32 *got_msize, char *got_v)
{
	int ret;

	msg_version(msize, v);
	ret = rpc();
	if (!ret) {
		struct p9_str s;

		*got_msize = p9_get_u32(&R);
		s = p9_get_str(&R);
		memcpy(got_v, s.s, s.len);
		got_v[s.len] = '\0';
	}
	return ret;
}

static int t_attach(u32 fid, struct p9_qid *qid)
{
	int ret;

	msg_attach(fid, "root");
	ret = rpc();
	if (!ret && qid)
		*qid = p9_get_qid(&R);
	return ret;
}

/* Walk; *nwqid (if given) gets how many qids came back. */
static int t_walkv(u32 fid, u32 newfid, unsigned int n, const char *const *names,
		   struct p9_qid *qids, unsigned int *nwqid)
{
	int ret;

	msg_walk(fid, newfid, n, names);
	ret = rpc();
	if (!ret) {
		unsigned int k = p9_get_u16(&R);

		for (unsigned int i = 0; i < k; i++) {
			struct p9_qid q = p9_get_qid(&R);

			if (qids && i < n)
				qids[i] = q;
		}
		CHECK(!R.bad);
		if (nwqid)
			*nwqid = k;
		else
			CHECK_EQ(k, n);
	}
	return ret;
}

/* A full walk of one name: 0 or the error. */
static int t_walk1(u32 fid, u32 newfid, const char *name, struct p9_qid *qid)
{
	unsigned int k = 0;
	int ret = t_walkv(fid, newfid, 1, &name, qid, &k);

	return ret ? ret : (k == 1 ? 0 : -1);
}

static int t_clunk(u32 fid)
{
	msg_fid_only(P9_TCLUNK, fid);
	return rpc();
}

static int t_lopen(u32 fid, u32 flags)
{
	msg_lopen(fid, flags);
	return rpc();
}

static int t_lcreate(u32 fid, const char *name, u32 flags, u32 mode)
{
	msg_lcreate(fid, name, flags, mode);
	return rpc();
}

static int t_write(u32 fid, u64 off, const void *buf, u32 n, u32 *written)
{
	int ret;

	msg_write(fid, off, buf, n);
	ret = rpc();
	if (!ret)
		*written = p9_get_u32(&R);
	return ret;
}

static int t_read(u32 fid, u64 off, u32 count, void *buf, u32 *got)
{
	int ret;

	msg_read(P9_TREAD, fid, off, count);
	ret = rpc();
	if (!ret) {
		const void *d;

		*got = p9_get_u32(&R);
		d = p9_get_bytes(&R, *got);
		CHECK(d && p9_in_left(&R) == 0);
		if (d)
			memcpy(buf, d, *got);
	}
	return ret;
}

/* Read the whole file (opened fid) in chunks of chunk bytes. */
static ssize_t t_read_all(u32 fid, void *buf, size_t cap, u32 chunk)
{
	size_t done = 0;
	u32 got;

	for (;;) {
		int ret = t_read(fid, done, (u32)MIN((size_t)chunk, cap - done),
				 (u8 *)buf + done, &got);

		if (ret)
			return -ret;
		if (!got || done + got >= cap)
			return (ssize_t)(done + got);
		done += got;
	}
}

struct attr {
	struct p9_qid qid;
	u32 mode;
	u64 nlink, size, mtime_sec;
};

static int t_getattr(u32 fid, struct attr *a)
{
	int ret;

	msg_getattr(fid);
	ret = rpc();
	if (!ret) {
		CHECK_EQ(p9_get_u64(&R), P9_GETATTR_BASIC);
		a->qid = p9_get_qid(&R);
		a->mode = p9_get_u32(&R);
		p9_get_u32(&R);
		p9_get_u32(&R);
		a->nlink = p9_get_u64(&R);
		p9_get_u64(&R);
		a->size = p9_get_u64(&R);
		p9_get_u64(&R);
		p9_get_u64(&R);
		p9_get_u64(&R);
		p9_get_u64(&R);
		a->mtime_sec = p9_get_u64(&R);
		for (int i = 0; i < 7; i++)
			p9_get_u64(&R);
		CHECK(!R.bad && p9_in_left(&R) == 0);
	}
	return ret;
}

static int t_setattr(u32 fid, u32 valid, u32 mode, u64 size, u64 mtime)
{
	msg_setattr(fid, valid, mode, size, mtime);
	return rpc();
}

static int t_mkdir(u32 dfid, const char *name, u32 mode)
{
	msg_mkdir(dfid, name, mode);
	return rpc();
}

static int t_symlink(u32 dfid, const char *name, const char *target)
{
	msg_symlink(dfid, name, target);
	return rpc();
}

static int t_readlink(u32 fid, char *buf)
{
	int ret;

	msg_fid_only(P9_TREADLINK, fid);
	ret = rpc();
	if (!ret) {
		struct p9_str s = p9_get_str(&R);

		memcpy(buf, s.s, s.len);
		buf[s.len] = '\0';
	}
	return ret;
}

static int t_mknod(u32 dfid, const char *name, u32 mode, u32 major, u32 minor)
{
	msg_mknod(dfid, name, mode, major, minor);
	return rpc();
}

static int t_link(u32 dfid, u32 fid, const char *name)
{
	msg_link(dfid, fid, name);
	return rpc();
}

static int t_renameat(u32 odfid, const char *oname, u32 ndfid, const char *nname)
{
	msg_renameat(odfid, oname, ndfid, nname);
	return rpc();
}

static int t_rename(u32 fid, u32 dfid, const char *name)
{
	msg_rename(fid, dfid, name);
	return rpc();
}

static int t_unlinkat(u32 dfid, const char *name, u32 flags)
{
	msg_unlinkat(dfid, name, flags);
	return rpc();
}

static int t_remove(u32 fid)
{
	msg_fid_only(P9_TREMOVE, fid);
	return rpc();
}

static int t_fid_only(u8 type, u32 fid)
{
	msg_fid_only(type, fid);
	return rpc();
}

/* Names in directory fid (opened here) via Treaddir with small counts. */
static int t_list(u32 dirfid, u32 tmpfid, char names[][64], int max, int *n)
{
	u64 off = 0;
	int ret;

	*n = 0;
	ret = t_walkv(dirfid, tmpfid, 0, NULL, NULL, NULL);
	if (!ret)
		ret = t_lopen(tmpfid, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY);
	while (!ret) {
		u32 count;

		/* A few entries per call: offsets matter. */
		msg_read(P9_TREADDIR, tmpfid, off, 100);
		ret = rpc();
		if (ret)
			break;
		count = p9_get_u32(&R);
		CHECK(count <= 100);
		CHECK_EQ(count, p9_in_left(&R));
		if (!count)
			break;
		while (p9_in_left(&R) && !R.bad) {
			struct p9_str s;

			p9_get_qid(&R);
			off = p9_get_u64(&R);
			p9_get_u8(&R);
			s = p9_get_str(&R);
			if (R.bad || s.len >= 64)
				break;
			if (*n < max && !(s.len <= 2 && !memcmp(s.s, "..", s.len))) {
				memcpy(names[*n], s.s, s.len);
				names[(*n)++][s.len] = '\0';
			}
		}
		CHECK(!R.bad);
	}
	t_clunk(tmpfid);
	return ret;
}

static bool listed(char names[][64], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* A fresh session on a fresh export: fid 0 is the root. */
static void session(bool readonly, bool openat2)
{
	u32 msize;
	char v[32];

	export_clear();
	fs_start(readonly, openat2);
	CHECK_EQ(t_version(65536, P9_VERSION_L, &msize, v), 0);
	CHECK_EQ(t_attach(0, NULL), 0);
}

/* ---- codec ---- */

static void test_codec_round_trip(void)
{
	u8 buf[64];
	struct p9_out out;
	struct p9_in in;
	struct p9_qid q = { P9_QTDIR, 0x11223344, 0x0102030405060708ULL }, q2;
	struct p9_str s;

	p9_out_init(&out, buf, sizeof(buf));
	p9_put_u8(&out, 0xab);
	p9_put_u16(&out, 0xbeef);
	p9_put_u32(&out, 0xdeadbeef);
	p9_put_u64(&out, 0x1122334455667788ULL);
	p9_put_str(&out, "name");
	p9_put_qid(&out, &q);
	CHECK(!out.overflow);
	CHECK_EQ(out.pos, 1 + 2 + 4 + 8 + 2 + 4 + 13);
	/* Little-endian on the wire whatever the host. */
	CHECK_EQ(buf[1], 0xef);
	CHECK_EQ(buf[2], 0xbe);
	CHECK_EQ(buf[3], 0xef);
	CHECK_EQ(buf[6], 0xde);

	p9_in_init(&in, buf, out.pos);
	CHECK_EQ(p9_get_u8(&in), 0xab);
	CHECK_EQ(p9_get_u16(&in), 0xbeef);
	CHECK_EQ(p9_get_u32(&in), 0xdeadbeef);
	CHECK(p9_get_u64(&in) == 0x1122334455667788ULL);
	s = p9_get_str(&in);
	CHECK(s.len == 4 && !memcmp(s.s, "name", 4));
	q2 = p9_get_qid(&in);
	CHECK(q2.type == q.type && q2.version == q.version && q2.path == q.path);
	CHECK(!in.bad);
	CHECK_EQ(p9_in_left(&in), 0);
	/* One byte more is an overrun. */
	CHECK_EQ(p9_get_u8(&in), 0);
	CHECK(in.bad);
}

/* Every truncation of a message: reading its fields flags it, yields 0s. */
static void test_codec_truncated(void)
{
	u8 full[40], *copy;
	struct p9_out out;

	p9_out_init(&out, full, sizeof(full));
	p9_put_u32(&out, 7);
	p9_put_str(&out, "abcdef");
	p9_put_u64(&out, ~0ULL);
	p9_put_u16(&out, 9);
	for (u32 len = 0; len < out.pos; len++) {
		struct p9_in in;
		struct p9_str s;
		u64 v64;
		u16 v16;

		/* An exact-size heap copy: ASan sees any read past it. */
		copy = malloc(len ? len : 1);
		memcpy(copy, full, len);
		p9_in_init(&in, copy, len);
		p9_get_u32(&in);
		s = p9_get_str(&in);
		v64 = p9_get_u64(&in);
		v16 = p9_get_u16(&in);
		CHECK(in.bad);
		if (len < 12)
			CHECK(s.len == 0);
		if (len < 20)
			CHECK(v64 == 0);
		CHECK_EQ(v16, 0);
		free(copy);
	}
}

static void test_codec_oversized(void)
{
	u8 msg[8] = { 0xff, 0xff, 'a', 'b' };	/* string claims 65535 bytes */
	struct p9_in in;
	struct p9_str s;
	char buf[8];

	p9_in_init(&in, msg, 4);
	s = p9_get_str(&in);
	CHECK(in.bad);
	CHECK_EQ(s.len, 0);
	CHECK(p9_get_bytes(&in, 0) == NULL);	/* stays bad */

	CHECK_EQ(p9_str_to_cstr((struct p9_str){ "abc", 3 }, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "abc");
	CHECK_EQ(p9_str_to_cstr((struct p9_str){ "a\0c", 3 }, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ(p9_str_to_cstr((struct p9_str){ "12345678", 8 }, buf, sizeof(buf)),
		 -ENAMETOOLONG);
}

static void test_codec_writer_overflow(void)
{
	u8 buf[16];
	struct p9_out out;

	memset(buf, 0x5a, sizeof(buf));
	p9_out_init(&out, buf, 12);
	p9_msg_begin(&out, P9_RVERSION, 1);
	p9_put_u32(&out, 1);
	CHECK(!out.overflow);
	p9_put_u16(&out, 2);	/* 13 > 12 */
	CHECK(out.overflow);
	p9_put_u8(&out, 3);
	CHECK_EQ(out.pos, 11);
	CHECK_EQ(p9_msg_end(&out), 0);
	for (int i = 12; i < 16; i++)
		CHECK_EQ(buf[i], 0x5a);
	CHECK(p9_put_reserve(&out, 0) == NULL);
	p9_out_init(&out, buf, 12);
	p9_msg_begin(&out, P9_RCLUNK, 7);
	CHECK_EQ(p9_msg_end(&out), 7);
	CHECK_EQ(buf[0], 7);
}

/* ---- the file server: operations ---- */

static void test_version(void)
{
	u32 msize;
	char v[32];

	export_clear();
	fs_start(false, true);
	CHECK_EQ(t_version(8192, P9_VERSION_L, &msize, v), 0);
	CHECK_EQ(msize, 8192);
	CHECK_STR(v, P9_VERSION_L);
	CHECK_EQ(t_version(16u << 20, P9_VERSION_L, &msize, v), 0);
	CHECK_EQ(msize, P9_MAX_MSIZE);
	CHECK_EQ(t_version(65536, "9P2000", &msize, v), 0);
	CHECK_STR(v, "unknown");
	CHECK_EQ(t_version(100, P9_VERSION_L, &msize, v), EINVAL);
	/* A new version clunks every fid. */
	CHECK_EQ(t_attach(5, NULL), 0);
	CHECK_EQ(t_version(8192, P9_VERSION_L, &msize, v), 0);
	CHECK_EQ(t_clunk(5), EBADF);
	CHECK_EQ(p9_fid_count(&fs.fids), 0);
}

static void test_attach_walk_clunk(void)
{
	struct p9_qid root_qid, q[2];
	const char *names[] = { "dir", "file" };
	unsigned int k;

	session(false, true);
	CHECK_EQ(t_attach(1, &root_qid), 0);
	CHECK_EQ(root_qid.type, P9_QTDIR);
	CHECK_EQ(t_attach(1, NULL), EEXIST);	/* fid in use */
	{
		char p[512];

		path_of(p, sizeof(p), "dir");
		mkdir(p, 0755);
	}
	host_write("dir/file", "x", 1);
	CHECK_EQ(t_walkv(0, 2, 2, names, q, NULL), 0);
	CHECK_EQ(q[0].type, P9_QTDIR);
	CHECK_EQ(q[1].type, P9_QTFILE);
	/* A partial walk: one qid, newfid not made. */
	names[1] = "nothere";
	CHECK_EQ(t_walkv(0, 3, 2, names, q, &k), 0);
	CHECK_EQ(k, 1);
	CHECK_EQ(t_clunk(3), EBADF);
	/* The first name failing is an error. */
	CHECK_EQ(t_walk1(0, 3, "nothere", NULL), ENOENT);
	/* Clone (no names) and walk in place (newfid == fid). */
	CHECK_EQ(t_walkv(0, 4, 0, NULL, NULL, NULL), 0);
	CHECK_EQ(t_walk1(4, 4, "dir", &q[0]), 0);
	CHECK_EQ(q[0].type, P9_QTDIR);
	CHECK_EQ(t_walk1(0, 4, "dir", NULL), EEXIST);	/* newfid in use */
	CHECK_EQ(t_walk1(99, 5, "dir", NULL), EBADF);	/* fid not in use */
	CHECK_EQ(t_clunk(4), 0);
	CHECK_EQ(t_clunk(4), EBADF);
	CHECK_EQ(t_clunk(2), 0);
	CHECK_EQ(t_clunk(1), 0);
}

/* Guest-side create, write, read, rename, list, delete; the host sees it. */
static void test_file_life(void)
{
	static u8 data[200000], back[200000];
	char names[16][64];
	struct attr a;
	u32 n = 0, done = 0;
	int count;

	session(false, true);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (u8)(i * 7 + (i >> 9));
	CHECK_EQ(t_walkv(0, 1, 0, NULL, NULL, NULL), 0);
	CHECK_EQ(t_lcreate(1, "new.bin", P9_DOTL_RDWR | P9_DOTL_CREATE, 0640), 0);
	while (done < sizeof(data)) {
		u32 chunk = MIN(60000u, (u32)sizeof(data) - done);

		CHECK_EQ(t_write(1, done, data + done, chunk, &n), 0);
		CHECK_EQ(n, chunk);
		if (n != chunk)
			break;
		done += n;
	}
	CHECK_EQ(t_getattr(1, &a), 0);
	CHECK_EQ(a.size, sizeof(data));
	CHECK_EQ(a.mode, S_IFREG | 0640);	/* not narrowed by our umask */
	CHECK_EQ(t_read_all(1, back, sizeof(back), 8000), (ssize_t)sizeof(data));
	CHECK(!memcmp(back, data, sizeof(data)));
	CHECK_EQ(t_fid_only(P9_TFSYNC, 1), 0);
	CHECK_EQ(t_clunk(1), 0);
	/* The host sees exactly the bytes written. */
	memset(back, 0, sizeof(back));
	CHECK_EQ(host_read("new.bin", back, sizeof(back)), (ssize_t)sizeof(data));
	CHECK(!memcmp(back, data, sizeof(data)));

	CHECK_EQ(t_mkdir(0, "sub", 0750), 0);
	CHECK_EQ(t_renameat(0, "new.bin", 0, "renamed.bin"), 0);
	CHECK(!host_exists("new.bin") && host_exists("renamed.bin"));
	CHECK_EQ(t_walk1(0, 2, "sub", NULL), 0);
	CHECK_EQ(t_renameat(0, "renamed.bin", 2, "moved.bin"), 0);
	CHECK(host_exists("sub/moved.bin"));
	for (int i = 0; i < 12; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%02d", i);
		host_write(name, name, strlen(name));
	}
	CHECK_EQ(t_list(0, 9, names, 16, &count), 0);
	CHECK_EQ(count, 13);	/* f00..f11 and sub: readdir resumed at offsets */
	CHECK(listed(names, count, "f00") && listed(names, count, "f11") &&
	      listed(names, count, "sub"));
	CHECK_EQ(t_list(2, 9, names, 16, &count), 0);
	CHECK_EQ(count, 1);
	CHECK_STR(names[0], "moved.bin");

	CHECK_EQ(t_unlinkat(2, "moved.bin", 0), 0);
	CHECK(!host_exists("sub/moved.bin"));
	CHECK_EQ(t_unlinkat(0, "sub", 0), EISDIR);
	CHECK_EQ(t_clunk(2), 0);
	CHECK_EQ(t_unlinkat(0, "sub", P9_AT_REMOVEDIR), 0);
	CHECK(!host_exists("sub"));
	CHECK_EQ(t_unlinkat(0, "f00", 0x1234), EINVAL);
	CHECK_EQ(t_unlinkat(0, "f00", 0), 0);
	CHECK(!host_exists("f00"));
	/* Trename and Tremove act on a fid's own name. */
	CHECK_EQ(t_walk1(0, 3, "f01", NULL), 0);
	CHECK_EQ(t_rename(3, 0, "f01-renamed"), 0);
	CHECK(host_exists("f01-renamed") && !host_exists("f01"));
	CHECK_EQ(t_remove(3), 0);
	CHECK(!host_exists("f01-renamed"));
	CHECK_EQ(t_clunk(3), EBADF);	/* remove clunked it */
	CHECK_EQ(t_walkv(0, 4, 0, NULL, NULL, NULL), 0);
	CHECK_EQ(t_remove(4), EBUSY);	/* the root cannot go */
	CHECK(host_exists("f02"));
}

/*
 * Trename/Tremove find a fid's name through /proc, which may be stale:
 * that name is used only while it still leads to the fid's own inode.
 */
static void test_stale_names(void)
{
	char p[512], q[512];

	session(false, true);
	host_write("a", "1", 1);
	CHECK_EQ(t_walk1(0, 1, "a", NULL), 0);
	host_write("a (deleted)", "decoy", 5);
	path_of(p, sizeof(p), "a");
	CHECK_EQ(unlink(p), 0);
	CHECK_EQ(t_rename(1, 0, "moved"), ENOENT);
	CHECK(host_exists("a (deleted)") && !host_exists("moved"));
	CHECK_EQ(t_remove(1), ENOENT);
	CHECK(host_exists("a (deleted)"));
	/* A file the host renamed is found under its new name. */
	host_write("b", "2", 1);
	CHECK_EQ(t_walk1(0, 2, "b", NULL), 0);
	path_of(p, sizeof(p), "b");
	path_of(q, sizeof(q), "c");
	CHECK_EQ(rename(p, q), 0);
	CHECK_EQ(t_rename(2, 0, "d"), 0);
	CHECK(host_exists("d") && !host_exists("c"));
	CHECK_EQ(t_clunk(2), 0);
}

/* A host-made file reads bit-exact, at odd offsets and sizes too. */
static void test_host_file_read(void)
{
	static u8 data[300001], back[300001];
	u32 got;

	session(false, true);
	srand(42);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (u8)rand();
	host_write("host.bin", data, sizeof(data));
	CHECK_EQ(t_walk1(0, 1, "host.bin", NULL), 0);
	CHECK_EQ(t_read(1, 0, 10, back, &got), EBADF);	/* not open yet */
	CHECK_EQ(t_lopen(1, P9_DOTL_RDONLY), 0);
	CHECK_EQ(t_lopen(1, P9_DOTL_RDONLY), EBUSY);
	CHECK_EQ(t_read_all(1, back, sizeof(back), 65536 - 11), (ssize_t)sizeof(data));
	CHECK(!memcmp(back, data, sizeof(data)));
	CHECK_EQ(t_read(1, 12345, 777, back, &got), 0);
	CHECK_EQ(got, 777);
	CHECK(!memcmp(back, data + 12345, 777));
	CHECK_EQ(t_read(1, sizeof(data) - 1, 100, back, &got), 0);
	CHECK_EQ(got, 1);
	CHECK_EQ(t_read(1, sizeof(data) + 5, 100, back, &got), 0);
	CHECK_EQ(got, 0);
	/* A read larger than the reply buffer is cut to fit. */
	reply_cap = 4096;
	CHECK_EQ(t_read(1, 0, 100000, back, &got), 0);
	CHECK_EQ(got, 4096 - 11);
	reply_cap = P9_MAX_MSIZE;
	/* Writing through a read-only open fails. */
	CHECK_EQ(t_write(1, 0, "x", 1, &got), EBADF);
	CHECK_EQ(t_clunk(1), 0);
}

static void test_attrs_links_nodes(void)
{
	struct attr a, b;
	struct stat st;
	char target[64], p[512];
	u32 n;

	session(false, true);
	host_write("file", "0123456789", 10);
	CHECK_EQ(t_walk1(0, 1, "file", NULL), 0);
	CHECK_EQ(t_setattr(1, P9_SETATTR_MODE, S_IFREG | 04755, 0, 0), 0);
	CHECK_EQ(t_getattr(1, &a), 0);
	CHECK_EQ(a.mode, S_IFREG | 0755);	/* set-user-ID is not passed on */
	CHECK_EQ(t_setattr(1, P9_SETATTR_SIZE, 0, 4, 0), 0);
	CHECK_EQ(t_setattr(1, P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET, 0, 0, 1000000), 0);
	path_of(p, sizeof(p), "file");
	CHECK_EQ(stat(p, &st), 0);
	CHECK_EQ(st.st_size, 4);
	CHECK_EQ(st.st_mtime, 1000000);
	CHECK_EQ(t_setattr(1, P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET, 0, 0, 1ULL << 63),
		 EINVAL);

	CHECK_EQ(t_link(0, 1, "hard"), 0);
	CHECK_EQ(t_getattr(1, &a), 0);
	CHECK_EQ(a.nlink, 2);
	CHECK_EQ(t_walk1(0, 2, "hard", NULL), 0);
	CHECK_EQ(t_getattr(2, &b), 0);
	CHECK(a.qid.path == b.qid.path);

	CHECK_EQ(t_symlink(0, "sym", "some/where"), 0);
	CHECK_EQ(t_walk1(0, 3, "sym", NULL), 0);
	CHECK_EQ(t_readlink(3, target), 0);
	CHECK_STR(target, "some/where");
	CHECK_EQ(t_readlink(1, target), EINVAL);
	CHECK_EQ(t_getattr(3, &a), 0);
	CHECK(S_ISLNK(a.mode));
	CHECK_EQ(a.qid.type, P9_QTSYMLINK);
	/* Times of the link itself, not of what it points to. */
	CHECK_EQ(t_setattr(3, P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET, 0, 0, 2000000), 0);
	path_of(p, sizeof(p), "sym");
	CHECK_EQ(lstat(p, &st), 0);
	CHECK_EQ(st.st_mtime, 2000000);
	CHECK_EQ(t_link(0, 3, "sym-hard"), 0);
	path_of(p, sizeof(p), "sym-hard");
	CHECK_EQ(lstat(p, &st), 0);
	CHECK(S_ISLNK(st.st_mode));

	CHECK_EQ(t_mknod(0, "fifo", S_IFIFO | 0600, 0, 0), 0);
	path_of(p, sizeof(p), "fifo");
	CHECK_EQ(lstat(p, &st), 0);
	CHECK(S_ISFIFO(st.st_mode));
	/* A FIFO opens without blocking the server. */
	CHECK_EQ(t_walk1(0, 4, "fifo", NULL), 0);
	CHECK_EQ(t_lopen(4, P9_DOTL_RDONLY), 0);
	CHECK_EQ(t_read(4, 0, 10, target, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(t_mknod(0, "dev", S_IFCHR | 0600, 1, 3), EPERM);
	CHECK_EQ(t_mknod(0, "blk", S_IFBLK | 0600, 8, 0), EPERM);
	CHECK(!host_exists("dev") && !host_exists("blk"));

	CHECK_EQ(t_fid_only(P9_TSTATFS, 0), 0);
	p9_get_u32(&R);			/* type */
	CHECK(p9_get_u32(&R) > 0);	/* bsize */
	CHECK(p9_get_u64(&R) > 0);	/* blocks */
	for (int i = 0; i < 5; i++)
		p9_get_u64(&R);
	CHECK_EQ(p9_get_u32(&R), 255);	/* namelen */
	CHECK(!R.bad && p9_in_left(&R) == 0);
	CHECK_EQ(t_fid_only(P9_TFSYNC, 2), EBADF);	/* not open */
	CHECK_EQ(t_mkdir(0, "d", 0777), 0);
	path_of(p, sizeof(p), "d");
	CHECK_EQ(stat(p, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0777);
	for (u32 fid = 1; fid <= 4; fid++)
		CHECK_EQ(t_clunk(fid), 0);
}

static void test_lock_and_xattr(void)
{
	session(false, true);
	host_write("f", "x", 1);
	CHECK_EQ(t_walk1(0, 1, "f", NULL), 0);
	msg_lock(P9_TLOCK, 1, P9_LOCK_TYPE_WRLCK, 0, 0, 42, "guest");
	CHECK_EQ(rpc(), EBADF);	/* not open */
	CHECK_EQ(t_lopen(1, P9_DOTL_RDWR), 0);
	msg_lock(P9_TLOCK, 1, P9_LOCK_TYPE_WRLCK, 0, 0, 42, "guest");
	CHECK_EQ(rpc(), 0);
	CHECK_EQ(p9_get_u8(&R), P9_LOCK_SUCCESS);
	msg_lock(P9_TGETLOCK, 1, P9_LOCK_TYPE_RDLCK, 5, 10, 42, "guest");
	CHECK_EQ(rpc(), 0);
	CHECK_EQ(p9_get_u8(&R), P9_LOCK_TYPE_UNLCK);
	CHECK_EQ(p9_get_u64(&R), 5);
	CHECK_EQ(p9_get_u64(&R), 10);

	msg_xattrwalk(1, 2, "user.x");
	CHECK_EQ(rpc(), EOPNOTSUPP);
	CHECK_EQ(t_clunk(2), EBADF);
	msg_xattrcreate(1, "user.x", 3, 0);
	CHECK_EQ(rpc(), EOPNOTSUPP);
	msg_xattrwalk(77, 2, "");
	CHECK_EQ(rpc(), EBADF);
	CHECK_EQ(t_clunk(1), 0);
}

static void test_readonly_export(void)
{
	struct attr a;
	u32 n;

	export_clear();
	host_write("ro.txt", "keep", 4);
	fs_start(true, true);
	{
		u32 msize;
		char v[32];

		CHECK_EQ(t_version(8192, P9_VERSION_L, &msize, v), 0);
	}
	CHECK_EQ(t_attach(0, NULL), 0);
	CHECK_EQ(t_walkv(0, 1, 0, NULL, NULL, NULL), 0);
	CHECK_EQ(t_lcreate(1, "new", P9_DOTL_WRONLY | P9_DOTL_CREATE, 0644), EROFS);
	CHECK_EQ(t_mkdir(0, "d", 0755), EROFS);
	CHECK_EQ(t_symlink(0, "s", "x"), EROFS);
	CHECK_EQ(t_mknod(0, "p", S_IFIFO | 0644, 0, 0), EROFS);
	CHECK_EQ(t_unlinkat(0, "ro.txt", 0), EROFS);
	CHECK_EQ(t_renameat(0, "ro.txt", 0, "x"), EROFS);
	CHECK_EQ(t_walk1(0, 2, "ro.txt", NULL), 0);
	CHECK_EQ(t_link(0, 2, "hard"), EROFS);
	CHECK_EQ(t_rename(2, 0, "x"), EROFS);
	CHECK_EQ(t_setattr(2, P9_SETATTR_SIZE, 0, 0, 0), EROFS);
	CHECK_EQ(t_setattr(2, P9_SETATTR_MODE, 0777, 0, 0), EROFS);
	CHECK_EQ(t_lopen(2, P9_DOTL_WRONLY), EROFS);
	CHECK_EQ(t_lopen(2, P9_DOTL_RDONLY | P9_DOTL_TRUNC), EROFS);
	CHECK_EQ(t_lopen(2, P9_DOTL_RDONLY), 0);
	CHECK_EQ(t_write(2, 0, "x", 1, &n), EROFS);
	CHECK_EQ(t_getattr(2, &a), 0);
	CHECK_EQ(a.size, 4);
	CHECK_EQ(t_walk1(0, 3, "ro.txt", NULL), 0);
	CHECK_EQ(t_remove(3), EROFS);
	{
		char buf[8] = { 0 };

		CHECK_EQ(host_read("ro.txt", buf, sizeof(buf)), 4);
		CHECK_STR(buf, "keep");
	}
	CHECK(!host_exists("new") && !host_exists("d") && !host_exists("s"));
}

/* ---- escape attempts ---- */

static bool outside_intact(void)
{
	char p[256], buf[32] = { 0 };
	struct stat st;
	int fd;

	snprintf(p, sizeof(p), "%s/secret", outside);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	snprintf(p, sizeof(p), "%s/new", outside);
	return !strcmp(buf, "outside-data") && stat(p, &st) < 0;
}

static void escape_dotdot(bool openat2)
{
	struct p9_qid root_qid, q[4];
	const char *up[] = { "..", "..", "..", "outside" };
	unsigned int k;
	struct attr a;

	session(false, openat2);
	CHECK_EQ(t_attach(1, &root_qid), 0);
	/* ".." at the root is the root. */
	CHECK_EQ(t_walkv(0, 2, 3, up, q, NULL), 0);
	for (int i = 0; i < 3; i++)
		CHECK(q[i].path == root_qid.path && q[i].type == P9_QTDIR);
	CHECK_EQ(t_getattr(2, &a), 0);
	CHECK(a.qid.path == root_qid.path);
	/* ../outside (a sibling of the export on the host) is not there. */
	CHECK_EQ(t_walkv(0, 3, 4, up, q, &k), 0);
	CHECK_EQ(k, 3);
	CHECK_EQ(t_clunk(3), EBADF);
	/* ".." below the root works normally. */
	CHECK_EQ(t_mkdir(0, "a", 0755), 0);
	{
		const char *down_up[] = { "a", ".." };

		CHECK_EQ(t_walkv(0, 4, 2, down_up, q, NULL), 0);
		CHECK(q[1].path == root_qid.path);
	}
	/* A directory the host moved out of the export: its ".." is refused. */
	CHECK_EQ(t_walk1(0, 5, "a", NULL), 0);
	{
		char from[512], to[512];

		path_of(from, sizeof(from), "a");
		snprintf(to, sizeof(to), "%s/moved-out", outside);
		CHECK_EQ(rename(from, to), 0);
		CHECK_EQ(t_walk1(5, 6, "..", NULL), ENOENT);
		CHECK_EQ(rename(to, from), 0);
	}
	/* Names that are not one component. */
	CHECK_EQ(t_walk1(0, 7, "a/..", NULL), EINVAL);
	CHECK_EQ(t_walk1(0, 7, "", NULL), EINVAL);
	CHECK_EQ(t_walk1(0, 7, "/", NULL), EINVAL);
	CHECK_EQ(t_lcreate(0, "..", P9_DOTL_RDWR, 0644), EINVAL);
	CHECK_EQ(t_mkdir(0, ".", 0755), EINVAL);
	CHECK_EQ(t_mkdir(0, "../x", 0755), EINVAL);
	CHECK_EQ(t_symlink(0, "", "x"), EINVAL);
	CHECK_EQ(t_unlinkat(0, "..", P9_AT_REMOVEDIR), EINVAL);
	CHECK_EQ(t_renameat(0, "a", 0, ".."), EINVAL);
	CHECK_EQ(t_renameat(0, "a", 0, "../a"), EINVAL);
	CHECK(outside_intact());
}

static void escape_symlinks(bool openat2)
{
	const char *through[] = { "to-outside", "secret" };
	const char *rel_through[] = { "up", "outside", "secret" };
	struct p9_qid q[3];
	char p[512], target[256];
	unsigned int k;
	u32 n;

	session(false, openat2);
	/* Host-made links out of the export, absolute and relative. */
	path_of(p, sizeof(p), "to-outside");
	CHECK_EQ(symlink(outside, p), 0);
	path_of(p, sizeof(p), "up");
	CHECK_EQ(symlink("..", p), 0);
	snprintf(target, sizeof(target), "%s/secret", outside);
	path_of(p, sizeof(p), "secret-link");
	CHECK_EQ(symlink(target, p), 0);

	/* A walk stops at a symlink: it never goes through one. */
	CHECK_EQ(t_walkv(0, 1, 2, through, q, &k), 0);
	CHECK_EQ(k, 1);
	CHECK_EQ(q[0].type, P9_QTSYMLINK);
	CHECK_EQ(t_walkv(0, 1, 3, rel_through, q, &k), 0);
	CHECK_EQ(k, 1);
	CHECK_EQ(t_clunk(1), EBADF);
	/* The link itself can be walked to, read, not opened. */
	CHECK_EQ(t_walk1(0, 2, "secret-link", NULL), 0);
	CHECK_EQ(t_lopen(2, P9_DOTL_RDONLY), ELOOP);
	CHECK_EQ(t_read(2, 0, 100, p, &n), EBADF);
	CHECK_EQ(t_readlink(2, p), 0);
	CHECK_STR(p, target);	/* just data: the guest resolves it in its own tree */
	CHECK_EQ(t_setattr(2, P9_SETATTR_SIZE, 0, 0, 0), EINVAL);
	CHECK_EQ(t_setattr(2, P9_SETATTR_MODE, 0777, 0, 0), EOPNOTSUPP);
	/* Creating over a link that leads outside neither follows nor truncates. */
	CHECK_EQ(t_walkv(0, 3, 0, NULL, NULL, NULL), 0);
	CHECK_EQ(t_lcreate(3, "secret-link", P9_DOTL_WRONLY | P9_DOTL_CREATE | P9_DOTL_TRUNC,
			   0644), ELOOP);
	CHECK_EQ(t_lcreate(3, "secret-link", P9_DOTL_WRONLY | P9_DOTL_CREATE | P9_DOTL_EXCL,
			   0644), EEXIST);
	/* Guest-made absolute link: stored, never followed by the server. */
	snprintf(target, sizeof(target), "%s/new", outside);
	CHECK_EQ(t_symlink(0, "evil", target), 0);
	CHECK_EQ(t_lcreate(3, "evil", P9_DOTL_WRONLY | P9_DOTL_CREATE, 0644), ELOOP);
	CHECK_EQ(t_walk1(0, 4, "evil", NULL), 0);
	CHECK_EQ(t_setattr(4, P9_SETATTR_MTIME, 0, 0, 0), 0);	/* the link's own time */
	CHECK_EQ(t_link(0, 4, "evil2"), 0);
	/* mkdir/mknod/rename through a link's name act on the link's directory. */
	CHECK_EQ(t_mkdir(2, "x", 0755), ENOTDIR);
	CHECK_EQ(t_renameat(0, "to-outside", 0, "renamed-link"), 0);
	CHECK(host_exists("renamed-link"));
	CHECK_EQ(t_unlinkat(0, "renamed-link", 0), 0);
	CHECK(outside_intact());
	/* A host-made device node is not opened. */
	path_of(p, sizeof(p), "null");
	if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0) {
		CHECK_EQ(t_walk1(0, 5, "null", NULL), 0);
		CHECK_EQ(t_lopen(5, P9_DOTL_RDWR), EPERM);
		CHECK_EQ(t_clunk(5), 0);
	} else {
		printf("SKIP: device node part of %s (mknod: %s)\n", __func__, strerror(errno));
	}
}

/* The host swaps a directory and a link to outside while the guest walks. */
struct swapper {
	volatile bool stop;
	unsigned long swaps;
};

static void *swap_main(void *arg)
{
	struct swapper *s = arg;
	char a[512], b[512];

	path_of(a, sizeof(a), "sw");
	path_of(b, sizeof(b), "sw-other");
	while (!s->stop) {
		if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0)
			s->swaps++;
	}
	return NULL;
}

static void escape_swap(bool openat2)
{
	const char *names[] = { "sw", "passwd" };
	struct swapper s = { 0 };
	pthread_t th;
	char p[512], buf[64];
	int inside = 0, leaked = 0;

	session(false, openat2);
	path_of(p, sizeof(p), "sw");
	CHECK_EQ(mkdir(p, 0755), 0);
	host_write("sw/passwd", "inside-passwd", 13);
	path_of(p, sizeof(p), "sw-other");
	CHECK_EQ(symlink(outside, p), 0);
	pthread_create(&th, NULL, swap_main, &s);
	for (int i = 0; i < 3000; i++) {
		unsigned int k = 0;
		u32 n = 0;

		if (t_walkv(0, 1, 2, names, NULL, &k) || k != 2)
			continue;
		if (!t_lopen(1, P9_DOTL_RDONLY) && !t_read(1, 0, sizeof(buf) - 1, buf, &n)) {
			buf[n] = '\0';
			if (!strcmp(buf, "inside-passwd"))
				inside++;
			else
				leaked++;
		}
		t_clunk(1);
	}
	s.stop = true;
	pthread_join(th, NULL);
	CHECK_EQ(leaked, 0);
	CHECK(inside > 0);
	if (!s.swaps)
		printf("SKIP: %s: RENAME_EXCHANGE unsupported here, nothing was swapped\n",
		       __func__);
	printf("  (%s: %lu swaps, %d reads inside, %d outside)\n",
	       openat2 ? "openat2" : "openat", s.swaps, inside, leaked);
	CHECK(outside_intact());
}

static void test_escape_openat2(void)
{
	fs_start(false, true);
	if (!fs.use_openat2) {
		printf("SKIP: %s: openat2 is not available on this kernel\n", __func__);
		return;
	}
	escape_dotdot(true);
	escape_symlinks(true);
	escape_swap(true);
	CHECK(fs.use_openat2);
}

static void test_escape_fallback(void)
{
	escape_dotdot(false);
	escape_symlinks(false);
	escape_swap(false);
	CHECK(!fs.use_openat2);
}

/* ---- malformed messages ---- */

static void test_malformed_frames(void)
{
	u8 *small;
	u32 len;

	session(false, true);
	/* Shorter than a header: Rlerror with NOTAG. */
	len = p9_handle(&fs, "\x05\x00", 2, rep, reply_cap);
	CHECK_EQ(len, 11);
	CHECK_EQ(rep[4], P9_RLERROR);
	CHECK(rep[5] == 0xff && rep[6] == 0xff);
	CHECK_EQ(rep[7], EINVAL);
	/* Size field larger than what arrived, smaller than a header. */
	msg_fid_only(P9_TCLUNK, 0);
	len = p9_msg_end(&tm);
	req[0] = (u8)(len + 1);
	CHECK_EQ(rpc_len(len), EINVAL);
	req[0] = 6;
	CHECK_EQ(rpc_len(len), EINVAL);
	req[0] = 0xff;
	req[3] = 0xff;
	CHECK_EQ(rpc_len(len), EINVAL);
	/* Size field cutting the fid: EINVAL, and fid 0 is still there. */
	req[0] = 9;
	req[3] = 0;
	CHECK_EQ(rpc_len(len), EINVAL);
	{
		struct attr a;

		CHECK_EQ(t_getattr(0, &a), 0);
	}
	/* Unknown and non-.L types. */
	T(200);
	CHECK_EQ(rpc(), EOPNOTSUPP);
	T(112);	/* Topen of 9P2000 */
	p9_put_u32(&tm, 0);
	p9_put_u8(&tm, 0);
	CHECK_EQ(rpc(), EOPNOTSUPP);
	T(P9_RVERSION);
	CHECK_EQ(rpc(), EOPNOTSUPP);
	T(P9_TLERROR);
	CHECK_EQ(rpc(), EOPNOTSUPP);
	/* A string longer than the message. */
	T(P9_TWALK);
	p9_put_u32(&tm, 0);
	p9_put_u32(&tm, 1);
	p9_put_u16(&tm, 1);
	p9_put_u16(&tm, 1000);
	p9_put_bytes(&tm, "abc", 3);
	CHECK_EQ(rpc(), EINVAL);
	CHECK_EQ(t_clunk(1), EBADF);
	/* Too many names. */
	{
		const char *many[17];

		for (int i = 0; i < 17; i++)
			many[i] = "..";
		CHECK_EQ(t_walkv(0, 1, 17, many, NULL, NULL), EINVAL);
		CHECK_EQ(t_walkv(0, 1, 16, many, NULL, NULL), 0);
		CHECK_EQ(t_clunk(1), 0);
	}
	/* A name with a NUL in it, a name longer than NAME_MAX. */
	T(P9_TMKDIR);
	p9_put_u32(&tm, 0);
	p9_put_strn(&tm, "ok\0/etc", 7);
	p9_put_u32(&tm, 0755);
	p9_put_u32(&tm, 0);
	CHECK_EQ(rpc(), EINVAL);
	CHECK(!host_exists("ok"));
	{
		char longname[300];

		memset(longname, 'n', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CHECK_EQ(t_mkdir(0, longname, 0755), ENAMETOOLONG);
	}
	/* Twrite whose count exceeds the data sent. */
	T(P9_TWRITE);
	p9_put_u32(&tm, 0);
	p9_put_u64(&tm, 0);
	p9_put_u32(&tm, 100);
	p9_put_bytes(&tm, "abc", 3);
	CHECK_EQ(rpc(), EINVAL);
	/* Fids not in use. */
	{
		struct attr a;

		CHECK_EQ(t_getattr(12345, &a), EBADF);
	}
	CHECK_EQ(t_fid_only(P9_TSTATFS, P9_NOFID), EBADF);
	CHECK_EQ(t_lopen(999, 0), EBADF);
	CHECK_EQ(t_mkdir(999, "x", 0755), EBADF);
	CHECK_EQ(t_attach(P9_NOFID, NULL), EBADF);
	CHECK_EQ(t_lopen(0, 3), EINVAL);	/* access mode 3 */
	/* Replies that do not fit the guest's buffer. */
	reply_cap = 20;
	{
		struct attr a;

		CHECK_EQ(t_getattr(0, &a), EMSGSIZE);
	}
	reply_cap = 8;
	T(P9_TGETATTR);
	p9_put_u32(&tm, 0);
	p9_put_u64(&tm, 0);
	len = p9_msg_end(&tm);
	CHECK_EQ(p9_handle(&fs, req, len, rep, reply_cap), 0);
	reply_cap = P9_MAX_MSIZE;
	/* A request in an exact-size heap buffer (ASan guards its end). */
	msg_fid_only(P9_TSTATFS, 0);
	len = p9_msg_end(&tm);
	small = malloc(len);
	memcpy(small, req, len);
	CHECK_EQ(check_reply(p9_handle(&fs, small, len, rep, reply_cap)), 0);
	free(small);
}

/*
 * A complete request of each type, every field aimed at something real:
 * fid 1 is the file "victim", fid 0 the root.  Sent whole, most would
 * change the tree.
 */
static void build_request(u8 type)
{
	switch (type) {
	case P9_TVERSION:
		msg_version(8192, P9_VERSION_L);
		break;
	case P9_TATTACH:
		msg_attach(50, "u");
		break;
	case P9_TFLUSH:
		msg_flush(1);
		break;
	case P9_TWALK:
		msg_walk(0, 51, 1, (const char *const[]){ "victim" });
		break;
	case P9_TLCREATE:
		msg_lcreate(0, "made", P9_DOTL_RDWR | P9_DOTL_CREATE, 0644);
		break;
	case P9_TSYMLINK:
		msg_symlink(0, "made", "target");
		break;
	case P9_TMKNOD:
		msg_mknod(0, "made", S_IFIFO | 0644, 0, 0);
		break;
	case P9_TMKDIR:
		msg_mkdir(0, "made", 0755);
		break;
	case P9_TUNLINKAT:
		msg_unlinkat(0, "victim", 0);
		break;
	case P9_TRENAMEAT:
		msg_renameat(0, "victim", 0, "made");
		break;
	case P9_TRENAME:
		msg_rename(1, 0, "made");
		break;
	case P9_TLINK:
		msg_link(0, 1, "made");
		break;
	case P9_TSETATTR:
		msg_setattr(1, P9_SETATTR_SIZE, 0, 0, 0);
		break;
	case P9_TXATTRWALK:
		msg_xattrwalk(1, 52, "user.a");
		break;
	case P9_TXATTRCREATE:
		msg_xattrcreate(1, "user.a", 1, 0);
		break;
	case P9_TLOCK: case P9_TGETLOCK:
		msg_lock(type, 1, P9_LOCK_TYPE_WRLCK, 0, 0, 1, "c");
		break;
	case P9_TGETATTR:
		msg_getattr(1);
		break;
	case P9_TLOPEN:
		msg_lopen(1, P9_DOTL_RDWR | P9_DOTL_TRUNC);
		break;
	case P9_TREAD: case P9_TREADDIR:
		msg_read(type, 1, 0, 100);
		break;
	case P9_TWRITE:
		msg_write(1, 0, "abc", 3);
		break;
	default:	/* Tstatfs, Treadlink, Tclunk, Tremove: fid[4] */
		msg_fid_only(type, 1);
		break;
	}
}

/* Every strict prefix of every request is refused, without side effects. */
static void test_truncated_requests(void)
{
	static const u8 types[] = {
		P9_TSTATFS, P9_TLOPEN, P9_TLCREATE, P9_TSYMLINK, P9_TMKNOD, P9_TRENAME,
		P9_TREADLINK, P9_TGETATTR, P9_TSETATTR, P9_TXATTRWALK, P9_TXATTRCREATE,
		P9_TREADDIR, P9_TLOCK, P9_TGETLOCK, P9_TLINK, P9_TMKDIR, P9_TRENAMEAT,
		P9_TUNLINKAT, P9_TVERSION, P9_TATTACH, P9_TFLUSH, P9_TWALK, P9_TREAD,
		P9_TWRITE, P9_TCLUNK, P9_TREMOVE,
	};
	char names[8][64], buf[4] = { 0 };
	unsigned int prefixes = 0;
	int count;

	session(false, true);
	host_write("victim", "v", 1);
	CHECK_EQ(t_walk1(0, 1, "victim", NULL), 0);
	for (size_t t = 0; t < sizeof(types); t++) {
		u32 full, refused = 0;

		build_request(types[t]);
		full = p9_msg_end(&tm);
		for (u32 len = P9_HDR_SIZE; len < full; len++) {
			u32 size = htole32(len);

			memcpy(req, &size, 4);
			if (rpc_len(len) == EINVAL)
				refused++;
			prefixes++;
		}
		if (refused != full - P9_HDR_SIZE)
			fprintf(stderr, "  type %u: %u of %u prefixes refused\n", types[t],
				refused, full - P9_HDR_SIZE);
		CHECK_EQ(refused, full - P9_HDR_SIZE);
	}
	CHECK(prefixes > 300);
	/* Nothing was created, renamed, removed, truncated or attached. */
	CHECK(host_exists("victim") && !host_exists("made"));
	CHECK_EQ(t_list(0, 60, names, 8, &count), 0);
	CHECK_EQ(count, 1);
	CHECK_EQ(host_read("victim", buf, sizeof(buf)), 1);
	for (u32 fid = 50; fid <= 52; fid++)
		CHECK_EQ(t_clunk(fid), EBADF);
	CHECK_EQ(t_clunk(1), 0);
}

/* Random garbage after valid headers never crashes (run under ASan). */
static void test_random_messages(void)
{
	static const u8 types[] = {
		P9_TSTATFS, P9_TLOPEN, P9_TLCREATE, P9_TSYMLINK, P9_TMKNOD, P9_TRENAME,
		P9_TREADLINK, P9_TGETATTR, P9_TSETATTR, P9_TXATTRWALK, P9_TXATTRCREATE,
		P9_TREADDIR, P9_TFSYNC, P9_TLOCK, P9_TGETLOCK, P9_TLINK, P9_TMKDIR,
		P9_TRENAMEAT, P9_TUNLINKAT, P9_TAUTH, P9_TATTACH, P9_TFLUSH, P9_TWALK,
		P9_TREAD, P9_TWRITE, P9_TCLUNK, P9_TREMOVE, 0, 255,
	};
	unsigned int errors = 0;

	session(false, true);
	srand(1234);
	for (int i = 0; i < 20000; i++) {
		u32 len = P9_HDR_SIZE + (u32)(rand() % 64), got;

		for (u32 j = 0; j < len; j++)
			req[j] = (u8)rand();
		/* Small fids and short strings make the fields hit real objects. */
		for (u32 j = P9_HDR_SIZE; j + 1 < len; j += 4)
			if (rand() % 2)
				req[j] = (u8)(rand() % 4), req[j + 1] = 0;
		req[4] = types[rand() % sizeof(types)];
		if (rand() % 4) {
			req[0] = (u8)len;
			req[1] = req[2] = req[3] = 0;
		}
		reply_cap = (rand() % 8) ? P9_MAX_MSIZE : (u32)(rand() % 64);
		got = p9_handle(&fs, req, len, rep, reply_cap);
		if (got > reply_cap || (got && got < P9_HDR_SIZE))
			errors++;
		if (got) {
			u32 size;

			memcpy(&size, rep, 4);
			if (le32toh(size) != got)
				errors++;
		}
		if (i % 1000 == 0) {
			reply_cap = P9_MAX_MSIZE;
			p9_fs_reset(&fs);
			CHECK_EQ(t_attach(0, NULL), 0);
			CHECK_EQ(t_walkv(0, 1, 0, NULL, NULL, NULL), 0);
		}
	}
	reply_cap = P9_MAX_MSIZE;
	CHECK_EQ(errors, 0);
	CHECK(outside_intact());
	p9_fs_reset(&fs);
}

/* ---- the virtio device on fake guest RAM ---- */

#define RAM_GPA 0x100000ULL
#define RAM_SIZE 0x400000ULL
#define QSIZE 16
#define DESC_GPA RAM_GPA
#define AVAIL_GPA (RAM_GPA + 0x1000)
#define USED_GPA (RAM_GPA + 0x2000)
#define BUF_GPA (RAM_GPA + 0x10000)

static struct kvm vkvm;
static u8 *ram;
static int vq_signals;

static void *gpa(u64 a)
{
	return ram + (a - RAM_GPA);
}

static void t_signal_queue(struct virtio_device *vdev, struct virt_queue *vq)
{
	__atomic_add_fetch(&vq_signals, 1, __ATOMIC_SEQ_CST);
}

static const struct virtio_transport_ops fake_transport = {
	.name = "fake",
	.signal_queue = t_signal_queue,
};

static u16 next_desc, avail_idx;

/* Offer a chain: out_lens readable buffers, then in_lens writable ones. */
static u16 offer(const u64 *gpas, const u32 *lens, unsigned int n_out, unsigned int n_in)
{
	struct vring_desc *d = gpa(DESC_GPA);
	struct vring_avail *a = gpa(AVAIL_GPA);
	u16 head = next_desc % QSIZE;

	for (unsigned int i = 0; i < n_out + n_in; i++) {
		u16 k = next_desc++ % QSIZE;

		d[k].addr = htole64(gpas[i]);
		d[k].len = htole32(lens[i]);
		d[k].flags = htole16((i >= n_out ? VRING_DESC_F_WRITE : 0) |
				     (i + 1 < n_out + n_in ? VRING_DESC_F_NEXT : 0));
		d[k].next = htole16((k + 1) % QSIZE);
	}
	a->ring[avail_idx % QSIZE] = htole16(head);
	__atomic_store_n(&a->idx, htole16(++avail_idx), __ATOMIC_RELEASE);
	return head;
}

static bool wait_used(u16 idx)
{
	struct vring_used *u = gpa(USED_GPA);

	for (int i = 0; i < 3000; i++) {
		if (le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE)) == idx)
			return true;
		usleep(1000);
	}
	return false;
}

static struct vring_used_elem used_at(u16 i)
{
	struct vring_used *u = gpa(USED_GPA);

	return (struct vring_used_elem){ le32toh(u->ring[i % QSIZE].id),
					 le32toh(u->ring[i % QSIZE].len) };
}

static void device_up(struct virtio_device *vdev)
{
	u8 st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	u64 f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_9P_MOUNT_TAG);

	memset(ram, 0, RAM_SIZE);
	next_desc = avail_idx = 0;
	virtio_device_set_transport(vdev, &fake_transport, NULL, true);
	virtio_set_status(vdev, st);
	virtio_set_driver_features(vdev, 0, (u32)f);
	virtio_set_driver_features(vdev, 1, (u32)(f >> 32));
	virtio_set_status(vdev, st | VIRTIO_CONFIG_S_FEATURES_OK);
	virtio_queue_set_size(vdev, 0, QSIZE);
	virtio_queue_set_addr(vdev, 0, VIRTQ_AREA_DESC, DESC_GPA);
	virtio_queue_set_addr(vdev, 0, VIRTQ_AREA_DRIVER, AVAIL_GPA);
	virtio_queue_set_addr(vdev, 0, VIRTQ_AREA_DEVICE, USED_GPA);
	if (virtio_queue_enable(vdev, 0)) {
		fprintf(stderr, "queue enable failed\n");
		exit(2);
	}
	virtio_set_status(vdev, st | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* Send the T-message in tm from gpa `at`, reply room after it; wait for it. */
static int vrpc(struct virtio_device *vdev, u64 at, u32 reply_len, u32 *used_len)
{
	u32 len = p9_msg_end(&tm);
	u64 g[2] = { at, at + 0x8000 };
	u32 l[2] = { len, reply_len };
	struct vring_used_elem e;
	u16 head;

	memcpy(gpa(at), req, len);
	head = offer(g, l, 1, 1);
	virtio_queue_notify(vdev, 0);
	if (!wait_used(avail_idx)) {
		CHECK(!"request completed");
		return -1;
	}
	e = used_at(avail_idx - 1);
	CHECK_EQ(e.id, head);
	*used_len = e.len;
	if (!e.len)
		return -1;
	memcpy(rep, gpa(at + 0x8000), e.len);
	return check_reply(e.len);
}

/* A virtio-9p device sharing the export, spec "<export>,<opts>" (tag[,ro]). */
static struct virtio_device *vdev_create(const char *opts)
{
	struct virtio_device *vdev = NULL;
	struct p9_params params;
	const char *why = NULL;
	char spec[300];

	snprintf(spec, sizeof(spec), "%s,%s", root, opts);
	CHECK_EQ(virtio_9p_parse_spec(spec, &params, &why), 0);
	CHECK_EQ(virtio_9p_init(&vkvm, &params, &vdev), 0);
	return vdev;
}

static void test_virtio_device(void)
{
	struct virtio_device *vdev;
	u8 cfg[16] = { 0 };
	u32 got, used;

	export_clear();
	host_write("hello.txt", "hello, guest", 12);
	vdev = vdev_create("hostshare");
	CHECK_EQ(vdev->ops->device_id, VIRTIO_ID_9P);
	CHECK(vdev->device_features & (1ULL << VIRTIO_9P_MOUNT_TAG));
	virtio_config_read(vdev, 0, cfg, sizeof(cfg));
	CHECK_EQ(cfg[0], 9);
	CHECK_EQ(cfg[1], 0);
	CHECK(!memcmp(cfg + 2, "hostshare", 9));
	CHECK_EQ(vdev->config_size, 11);

	for (int round = 0; round < 2; round++) {
		device_up(vdev);
		/* Fids do not survive a device reset. */
		if (round) {
			msg_fid_only(P9_TCLUNK, 1);
			CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), EBADF);
		}
		msg_version(1u << 20, P9_VERSION_L);
		CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), 0);
		CHECK_EQ(p9_get_u32(&R), P9_MAX_MSIZE);
		msg_attach(0, "");
		CHECK_EQ(vrpc(vdev, BUF_GPA + 0x10000, 4096, &used), 0);
		msg_walk(0, 1, 1, (const char *const[]){ "hello.txt" });
		CHECK_EQ(vrpc(vdev, BUF_GPA + 0x20000, 4096, &used), 0);
		msg_lopen(1, P9_DOTL_RDONLY);
		CHECK_EQ(vrpc(vdev, BUF_GPA + 0x30000, 4096, &used), 0);

		/* A read whose reply header and data land in separate buffers. */
		msg_read(P9_TREAD, 1, 0, 100);
		{
			u32 len = p9_msg_end(&tm);
			u64 g[3] = { BUF_GPA + 0x40000, BUF_GPA + 0x41000, BUF_GPA + 0x42000 };
			u32 l[3] = { len, P9_RW_HDR_SIZE, 5 };	/* 5 bytes of data room */

			memcpy(gpa(g[0]), req, len);
			offer(g, l, 1, 2);
			virtio_queue_notify(vdev, 0);
			CHECK(wait_used(avail_idx));
			CHECK_EQ(used_at(avail_idx - 1).len, P9_RW_HDR_SIZE + 5);
			memcpy(&got, (u8 *)gpa(g[1]) + 7, 4);
			CHECK_EQ(le32toh(got), 5);
			CHECK(!memcmp(gpa(g[2]), "hello", 5));
		}
		/* A chain without room for even an Rlerror comes back empty. */
		msg_fid_only(P9_TCLUNK, 0);
		CHECK_EQ(vrpc(vdev, BUF_GPA + 0x50000, 4, &used), -1);
		CHECK_EQ(used, 0);
		CHECK(!virtio_device_is_broken(vdev));
		virtio_set_status(vdev, 0);
	}
	CHECK(__atomic_load_n(&vq_signals, __ATOMIC_SEQ_CST) > 0);
	virtio_9p_exit(vdev);
}

/* Queue one chain: message in tm at `at`, reply room of reply_len after it. */
static u16 queue_msg(u64 at, u32 reply_len)
{
	u32 len = p9_msg_end(&tm);
	u64 g[2] = { at, at + 0x1000 };
	u32 l[2] = { len, reply_len };

	memcpy(gpa(at), req, len);
	return offer(g, l, 1, 1);
}

/*
 * Tflush of a big read queued right behind it: another worker takes the
 * flush at once, and must still answer it only after the read's reply.
 */
static void test_virtio_flush_order(void)
{
	static u8 data[P9_MAX_MSIZE - 64];
	struct virtio_device *vdev;
	int misordered = 0, rounds = 40;
	u32 used;

	export_clear();
	memset(data, 0xa5, sizeof(data));
	host_write("big", data, sizeof(data));
	vdev = vdev_create("t,ro");
	device_up(vdev);
	msg_version(P9_MAX_MSIZE, P9_VERSION_L);
	CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), 0);
	msg_attach(0, "");
	CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), 0);
	msg_walk(0, 1, 1, (const char *const[]){ "big" });
	CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), 0);
	msg_lopen(1, P9_DOTL_RDONLY);
	CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), 0);

	for (int round = 0; round < rounds; round++) {
		u16 read_head, flush_head, read_tag;

		msg_read(P9_TREAD, 1, 0, sizeof(data));
		read_tag = sent_tag;
		read_head = queue_msg(BUF_GPA, P9_MAX_MSIZE);
		msg_flush(read_tag);
		flush_head = queue_msg(BUF_GPA + 0x100000, 64);
		virtio_queue_notify(vdev, 0);
		if (!wait_used(avail_idx)) {
			CHECK(!"both requests completed");
			break;
		}
		CHECK_EQ(used_at(avail_idx - 2).id, read_head);
		CHECK_EQ(used_at(avail_idx - 1).id, flush_head);
		CHECK_EQ(used_at(avail_idx - 2).len, P9_RW_HDR_SIZE + sizeof(data));
		CHECK_EQ(used_at(avail_idx - 1).len, P9_HDR_SIZE);
		if (used_at(avail_idx - 1).id != flush_head)
			misordered++;
	}
	CHECK_EQ(misordered, 0);
	virtio_set_status(vdev, 0);
	virtio_9p_exit(vdev);
}

/*
 * The request header is fetched from guest memory once.  p9_peek_header()
 * is wrapped at link time (Makefile: UNIT_WRAP_9p): right after the device
 * read the header of a taken request, the "other vCPU" rewrites its tag in
 * guest RAM.  The request must be served with the tag it was taken with
 * (the one a Tflush waits for), so the reply carries the original tag.
 */
bool __real_p9_peek_header(const void *msg, u32 len, u8 *type, u16 *tag);
bool __wrap_p9_peek_header(const void *msg, u32 len, u8 *type, u16 *tag);

static void *retag_at;		/* guest copy of the header to rewrite, or NULL */
static int retagged;

bool __wrap_p9_peek_header(const void *msg, u32 len, u8 *type, u16 *tag)
{
	bool ok = __real_p9_peek_header(msg, len, type, tag);

	if (retag_at) {
		u16 other = htole16((u16)(*tag + 100));

		memcpy((u8 *)retag_at + 5, &other, sizeof(other));
		retag_at = NULL;
		retagged++;
	}
	return ok;
}

static void test_virtio_header_fetched_once(void)
{
	struct virtio_device *vdev;
	u32 used;
	u16 tag;

	export_clear();
	vdev = vdev_create("t");
	device_up(vdev);
	msg_version(P9_MAX_MSIZE, P9_VERSION_L);
	CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), 0);
	retagged = 0;
	msg_fid_only(P9_TCLUNK, 7);
	retag_at = gpa(BUF_GPA);
	CHECK_EQ(vrpc(vdev, BUF_GPA, 4096, &used), EBADF);
	memcpy(&tag, rep + 5, sizeof(tag));
	CHECK_EQ(le16toh(tag), sent_tag);
	CHECK_EQ(retagged, 1);
	retag_at = NULL;
	virtio_set_status(vdev, 0);
	virtio_9p_exit(vdev);
}

/*
 * A guest that walks and opens fids until refused (each holds two
 * descriptors) stops at the export's descriptor budget, with
 * FD_BUDGET_RESERVE descriptors still free for everything else; the
 * refusal is EMFILE to the guest, and a reset gives every charge back.
 */
static void test_fid_descriptors_budgeted(void)
{
	struct rlimit saved, low;
	int fds[FD_BUDGET_RESERVE], before, most = 0, nfree = 0, ret = 0;
	u32 fid, msize;
	char version[32];

	getrlimit(RLIMIT_NOFILE, &saved);
	before = fd_count_open();
	low = saved;
	low.rlim_cur = (rlim_t)before + FD_BUDGET_RESERVE + 400;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	fd_budget_update_pool();
	export_clear();
	host_write("f", "x", 1);
	fs_start(false, true);
	CHECK_EQ(t_version(P9_MAX_MSIZE, P9_VERSION_L, &msize, version), 0);
	CHECK_EQ(t_attach(0, NULL), 0);
	for (fid = 1; fid < 100000; fid++) {
		ret = t_walk1(0, fid, "f", NULL);
		if (!ret)
			ret = t_lopen(fid, P9_DOTL_RDONLY);
		if (fd_count_open() > most)
			most = fd_count_open();
		if (ret)
			break;
	}
	CHECK_EQ(ret, EMFILE);
	CHECK(fid > 100);
	CHECK(most <= (int)low.rlim_cur - (int)FD_BUDGET_RESERVE);
	CHECK(fd_budget_used(&fs.fd_budget) <= fd_budget_pool_size());
	/* The reserve is there: set-up and the management server still get descriptors. */
	for (nfree = 0; nfree < (int)FD_BUDGET_RESERVE; nfree++) {
		fds[nfree] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fds[nfree] < 0)
			break;
	}
	CHECK_EQ(nfree, FD_BUDGET_RESERVE);
	while (nfree > 0)
		close(fds[--nfree]);
	/* Clunking one fid lets the guest open one more. */
	t_clunk(fid);	/* walked but not opened, maybe */
	CHECK_EQ(t_clunk(1), 0);
	CHECK_EQ(t_walk1(0, fid, "f", NULL), 0);
	CHECK_EQ(t_lopen(fid, P9_DOTL_RDONLY), 0);
	p9_fs_reset(&fs);
	CHECK_EQ(fd_budget_used(&fs.fd_budget), 0);
	CHECK_EQ(fd_count_open(), before);
	setrlimit(RLIMIT_NOFILE, &saved);
	fd_budget_update_pool();
}

static void test_parse_spec(void)
{
	struct p9_params p;
	const char *why = NULL;
	char longtag[100];

	CHECK_EQ(virtio_9p_parse_spec("/srv/share,tag", &p, &why), 0);
	CHECK_STR(p.dir, "/srv/share");
	CHECK_STR(p.tag, "tag");
	CHECK(!p.readonly);
	CHECK_EQ(virtio_9p_parse_spec("/srv/share,tag,ro", &p, &why), 0);
	CHECK(p.readonly);
	CHECK_STR(p.tag, "tag");
	CHECK(virtio_9p_parse_spec("/srv/share", &p, &why) < 0);
	CHECK(why && strstr(why, "tag"));
	CHECK(virtio_9p_parse_spec("/srv/share,", &p, &why) < 0);
	CHECK(virtio_9p_parse_spec(",tag", &p, &why) < 0);
	CHECK(virtio_9p_parse_spec("/srv,tag,rw", &p, &why) < 0);
	CHECK(virtio_9p_parse_spec("/srv,tag,ro,x", &p, &why) < 0);
	memset(longtag, 't', sizeof(longtag));
	memcpy(longtag, "/d,", 3);
	longtag[99] = '\0';
	CHECK(virtio_9p_parse_spec(longtag, &p, &why) < 0);
	/* Init refuses what is not a directory. */
	{
		struct virtio_device *vdev;

		CHECK_EQ(virtio_9p_parse_spec("/nonexistent-lkvm-dir,t", &p, &why), 0);
		CHECK(virtio_9p_init(&vkvm, &p, &vdev) < 0);
	}
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	u8 *area = mmap(NULL, RAM_SIZE + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (area == MAP_FAILED || mprotect(area + page, RAM_SIZE, PROT_READ | PROT_WRITE)) {
		perror("mmap");
		return 2;
	}
	ram = area + page;
	guest_mem_add(&vkvm.mem, RAM_GPA, RAM_SIZE, ram);
	tree_setup();

	RUN(test_codec_round_trip);
	RUN(test_codec_truncated);
	RUN(test_codec_oversized);
	RUN(test_codec_writer_overflow);
	RUN(test_version);
	RUN(test_attach_walk_clunk);
	RUN(test_file_life);
	RUN(test_stale_names);
	RUN(test_host_file_read);
	RUN(test_attrs_links_nodes);
	RUN(test_lock_and_xattr);
	RUN(test_readonly_export);
	RUN(test_escape_openat2);
	RUN(test_escape_fallback);
	RUN(test_malformed_frames);
	RUN(test_truncated_requests);
	RUN(test_random_messages);
	RUN(test_parse_spec);
	RUN(test_virtio_device);
	RUN(test_virtio_flush_order);
	RUN(test_virtio_header_fetched_once);
	RUN(test_fid_descriptors_budgeted);

	if (fs_up)
		p9_fs_destroy(&fs);
	rm_tree(base);
	ret = unit_summary();
	return ret;
}
