/*
 * 9P2000.L wire format and request dispatch.
 *
 * Every field of a request is read through p9_in, which refuses to step
 * past the message: an overrun only sets `bad`, and a handler checks it
 * before acting, so a truncated or lying message gets Rlerror(EINVAL) and
 * never touches the file system.  Replies are built with p9_out, whose
 * capacity is the smallest of msize and the guest's reply buffers.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include "lkvm/virtio-9p.h"

/* ---- reader ---- */

void p9_in_init(struct p9_in *in, const void *buf, u32 len)
{
	*in = (struct p9_in){ .buf = buf, .len = len };
}

u32 p9_in_left(const struct p9_in *in)
{
	return in->len - in->pos;
}

const void *p9_get_bytes(struct p9_in *in, u32 n)
{
	const void *p;

	if (in->bad || n > p9_in_left(in)) {
		in->bad = true;
		return NULL;
	}
	p = in->buf + in->pos;
	in->pos += n;
	return p;
}

/* An n-byte little-endian field; 0 once the message is overrun. */
static u64 get_le(struct p9_in *in, u32 n)
{
	const u8 *p = p9_get_bytes(in, n);
	u64 v = 0;

	for (u32 i = 0; p && i < n; i++)
		v |= (u64)p[i] << (8 * i);
	return v;
}

u8 p9_get_u8(struct p9_in *in)
{
	return (u8)get_le(in, 1);
}

u16 p9_get_u16(struct p9_in *in)
{
	return (u16)get_le(in, 2);
}

u32 p9_get_u32(struct p9_in *in)
{
	return (u32)get_le(in, 4);
}

u64 p9_get_u64(struct p9_in *in)
{
	return get_le(in, 8);
}

struct p9_str p9_get_str(struct p9_in *in)
{
	u16 len = p9_get_u16(in);
	const char *s = p9_get_bytes(in, len);

	return s ? (struct p9_str){ s, len } : (struct p9_str){ "", 0 };
}

struct p9_qid p9_get_qid(struct p9_in *in)
{
	struct p9_qid q;

	q.type = p9_get_u8(in);
	q.version = p9_get_u32(in);
	q.path = p9_get_u64(in);
	return q;
}

int p9_str_to_cstr(struct p9_str str, char *buf, size_t cap)
{
	if (str.len >= cap)
		return -ENAMETOOLONG;
	if (memchr(str.s, '\0', str.len))
		return -EINVAL;
	memcpy(buf, str.s, str.len);
	buf[str.len] = '\0';
	return 0;
}

bool p9_peek_header(const void *msg, u32 len, u8 *type, u16 *tag)
{
	struct p9_in in;

	p9_in_init(&in, msg, len);
	p9_get_u32(&in);
	*type = p9_get_u8(&in);
	*tag = p9_get_u16(&in);
	return !in.bad;
}

/* ---- writer ---- */

void p9_out_init(struct p9_out *out, void *buf, u32 cap)
{
	*out = (struct p9_out){ .buf = buf, .cap = cap };
}

void *p9_put_reserve(struct p9_out *out, u32 n)
{
	void *p;

	if (out->overflow || n > out->cap - out->pos) {
		out->overflow = true;
		return NULL;
	}
	p = out->buf + out->pos;
	out->pos += n;
	return p;
}

void p9_put_bytes(struct p9_out *out, const void *data, u32 n)
{
	void *p = p9_put_reserve(out, n);

	if (p && n)
		memcpy(p, data, n);
}

/* An n-byte little-endian field (nothing but the overflow if no room). */
static void put_le(struct p9_out *out, u64 v, u32 n)
{
	u8 *p = p9_put_reserve(out, n);

	for (u32 i = 0; p && i < n; i++)
		p[i] = (u8)(v >> (8 * i));
}

void p9_put_u8(struct p9_out *out, u8 v)
{
	put_le(out, v, 1);
}

void p9_put_u16(struct p9_out *out, u16 v)
{
	put_le(out, v, 2);
}

void p9_put_u32(struct p9_out *out, u32 v)
{
	put_le(out, v, 4);
}

void p9_put_u64(struct p9_out *out, u64 v)
{
	put_le(out, v, 8);
}

void p9_put_strn(struct p9_out *out, const char *s, size_t len)
{
	if (len > 0xffff) {
		out->overflow = true;
		return;
	}
	p9_put_u16(out, (u16)len);
	p9_put_bytes(out, s, (u32)len);
}

void p9_put_str(struct p9_out *out, const char *s)
{
	p9_put_strn(out, s, strlen(s));
}

void p9_put_qid(struct p9_out *out, const struct p9_qid *qid)
{
	p9_put_u8(out, qid->type);
	p9_put_u32(out, qid->version);
	p9_put_u64(out, qid->path);
}

void p9_msg_begin(struct p9_out *out, u8 type, u16 tag)
{
	out->pos = 0;
	out->overflow = false;
	p9_put_u32(out, 0);
	p9_put_u8(out, type);
	p9_put_u16(out, tag);
}

u32 p9_msg_end(struct p9_out *out)
{
	u32 size = htole32(out->pos);

	if (out->overflow || out->pos < P9_HDR_SIZE)
		return 0;
	memcpy(out->buf, &size, 4);
	return out->pos;
}

/* ---- request handlers ---- */

/*
 * A handler reads its fields from in, checks in->bad before acting, and
 * writes the reply body after the header already in out.  It returns 0,
 * or -errno for an Rlerror.
 */
struct p9_req {
	struct p9_fs *fs;
	struct p9_in in;
	struct p9_out *out;
};

typedef int (*p9_handler)(struct p9_req *r);

/* Fill in a count field written as 0 before the data it counts. */
static void patch_u32(u8 *p, u32 v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* A name argument: one bounded, NUL-free string. */
static int get_name(struct p9_req *r, char name[P9_NAME_MAX + 1])
{
	struct p9_str s = p9_get_str(&r->in);

	if (r->in.bad)
		return -EINVAL;
	return p9_str_to_cstr(s, name, P9_NAME_MAX + 1);
}

static int h_version(struct p9_req *r)
{
	u32 msize = p9_get_u32(&r->in);
	struct p9_str v = p9_get_str(&r->in);
	bool ours;

	if (r->in.bad)
		return -EINVAL;
	if (msize < P9_MIN_MSIZE)
		return -EINVAL;
	ours = v.len == strlen(P9_VERSION_L) && !memcmp(v.s, P9_VERSION_L, v.len);
	/* A new version starts a new session: every fid goes. */
	p9_fs_reset(r->fs);
	msize = MIN(msize, P9_MAX_MSIZE);
	__atomic_store_n(&r->fs->msize, msize, __ATOMIC_RELAXED);
	p9_put_u32(r->out, msize);
	p9_put_str(r->out, ours ? P9_VERSION_L : "unknown");
	return 0;
}

static int h_auth(struct p9_req *r)
{
	return -EOPNOTSUPP;	/* no authentication: attach with afid NOFID */
}

static int h_attach(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	struct p9_qid qid;
	int ret;

	p9_get_u32(&r->in);	/* afid: ignored, we need no auth */
	p9_get_str(&r->in);	/* uname */
	p9_get_str(&r->in);	/* aname: there is one tree */
	p9_get_u32(&r->in);	/* n_uname: every access is lkvm's own */
	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_attach(r->fs, fid, &qid);
	if (ret)
		return ret;
	p9_put_qid(r->out, &qid);
	return 0;
}

static int h_flush(struct p9_req *r)
{
	/* The transport has waited for the old request already. */
	p9_get_u16(&r->in);
	return r->in.bad ? -EINVAL : 0;
}

static int h_walk(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in), newfid = p9_get_u32(&r->in);
	u16 nwname = p9_get_u16(&r->in);
	char names[P9_MAX_WALK][P9_NAME_MAX + 1];
	struct p9_qid qids[P9_MAX_WALK];
	unsigned int nwqid = 0;
	int ret;

	if (r->in.bad || nwname > P9_MAX_WALK)
		return -EINVAL;
	for (unsigned int i = 0; i < nwname; i++) {
		ret = get_name(r, names[i]);
		if (ret)
			return ret;
	}
	ret = p9_fs_walk(r->fs, fid, newfid, nwname, names, qids, &nwqid);
	if (ret)
		return ret;
	p9_put_u16(r->out, (u16)nwqid);
	for (unsigned int i = 0; i < nwqid; i++)
		p9_put_qid(r->out, &qids[i]);
	return 0;
}

static int h_lopen(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in), flags = p9_get_u32(&r->in);
	struct p9_qid qid;
	int ret;

	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_lopen(r->fs, fid, flags, &qid);
	if (ret)
		return ret;
	p9_put_qid(r->out, &qid);
	p9_put_u32(r->out, 0);	/* iounit 0: the client uses msize */
	return 0;
}

static int h_lcreate(struct p9_req *r)
{
	char name[P9_NAME_MAX + 1];
	u32 fid = p9_get_u32(&r->in), flags, mode;
	struct p9_qid qid;
	int ret = get_name(r, name);

	flags = p9_get_u32(&r->in);
	mode = p9_get_u32(&r->in);
	p9_get_u32(&r->in);	/* gid */
	if (r->in.bad)
		return -EINVAL;
	if (ret)
		return ret;
	ret = p9_fs_lcreate(r->fs, fid, name, flags, mode, &qid);
	if (ret)
		return ret;
	p9_put_qid(r->out, &qid);
	p9_put_u32(r->out, 0);
	return 0;
}

static int h_read(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	u64 offset = p9_get_u64(&r->in);
	u32 count = p9_get_u32(&r->in), room;
	u8 *data;
	ssize_t n;

	if (r->in.bad)
		return -EINVAL;
	room = r->out->cap - r->out->pos;
	room = room > 4 ? room - 4 : 0;
	count = MIN(count, room);
	p9_put_u32(r->out, 0);
	data = p9_put_reserve(r->out, count);
	if (!data)
		return -EMSGSIZE;
	n = p9_fs_read(r->fs, fid, offset, data, count);
	if (n < 0)
		return (int)n;
	/* Give back what was reserved but not read. */
	r->out->pos -= count - (u32)n;
	patch_u32(data - 4, (u32)n);
	return 0;
}

static int h_write(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	u64 offset = p9_get_u64(&r->in);
	u32 count = p9_get_u32(&r->in);
	const void *data = p9_get_bytes(&r->in, count);
	ssize_t n;

	if (r->in.bad)
		return -EINVAL;
	n = p9_fs_write(r->fs, fid, offset, data, count);
	if (n < 0)
		return (int)n;
	p9_put_u32(r->out, (u32)n);
	return 0;
}

/* Rreaddir entries go straight into the reply, up to count bytes. */
struct dirent_sink {
	struct p9_out *out;
	u32 limit;		/* out->pos must stay at or below this */
};

static bool put_dirent(void *opaque, const struct p9_dirent *de)
{
	struct dirent_sink *sink = opaque;
	size_t len = strlen(de->name);
	u32 need = P9_QID_SIZE + 8 + 1 + 2 + (u32)len;

	if (len > 0xffff || need > sink->limit - sink->out->pos)
		return false;
	p9_put_qid(sink->out, &de->qid);
	p9_put_u64(sink->out, de->offset);
	p9_put_u8(sink->out, de->type);
	p9_put_strn(sink->out, de->name, len);
	return true;
}

static int h_readdir(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	u64 offset = p9_get_u64(&r->in);
	u32 count = p9_get_u32(&r->in), start;
	struct dirent_sink sink = { .out = r->out };
	int ret;

	if (r->in.bad)
		return -EINVAL;
	p9_put_u32(r->out, 0);
	if (r->out->overflow)
		return -EMSGSIZE;
	start = r->out->pos;
	sink.limit = start + MIN(count, r->out->cap - start);
	ret = p9_fs_readdir(r->fs, fid, offset, put_dirent, &sink);
	if (ret)
		return ret;
	patch_u32(r->out->buf + start - 4, r->out->pos - start);
	return 0;
}

static int h_getattr(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	struct p9_qid qid;
	struct stat st;
	int ret;

	p9_get_u64(&r->in);	/* request_mask: we always give the basic set */
	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_getattr(r->fs, fid, &st);
	if (ret)
		return ret;
	p9_qid_from_stat(r->fs, &st, &qid);
	p9_put_u64(r->out, P9_GETATTR_BASIC);
	p9_put_qid(r->out, &qid);
	p9_put_u32(r->out, st.st_mode);
	p9_put_u32(r->out, st.st_uid);
	p9_put_u32(r->out, st.st_gid);
	p9_put_u64(r->out, st.st_nlink);
	p9_put_u64(r->out, st.st_rdev);
	p9_put_u64(r->out, st.st_size);
	p9_put_u64(r->out, st.st_blksize);
	p9_put_u64(r->out, st.st_blocks);
	p9_put_u64(r->out, st.st_atim.tv_sec);
	p9_put_u64(r->out, st.st_atim.tv_nsec);
	p9_put_u64(r->out, st.st_mtim.tv_sec);
	p9_put_u64(r->out, st.st_mtim.tv_nsec);
	p9_put_u64(r->out, st.st_ctim.tv_sec);
	p9_put_u64(r->out, st.st_ctim.tv_nsec);
	for (int i = 0; i < 4; i++)
		p9_put_u64(r->out, 0);	/* btime sec/nsec, gen, data_version */
	return 0;
}

static int h_setattr(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	struct p9_setattr sa;

	sa.valid = p9_get_u32(&r->in);
	sa.mode = p9_get_u32(&r->in);
	sa.uid = p9_get_u32(&r->in);
	sa.gid = p9_get_u32(&r->in);
	sa.size = p9_get_u64(&r->in);
	sa.atime_sec = p9_get_u64(&r->in);
	sa.atime_nsec = p9_get_u64(&r->in);
	sa.mtime_sec = p9_get_u64(&r->in);
	sa.mtime_nsec = p9_get_u64(&r->in);
	if (r->in.bad)
		return -EINVAL;
	return p9_fs_setattr(r->fs, fid, &sa);
}

static int h_statfs(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	struct statfs s;
	u64 fsid;
	int ret;

	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_statfs(r->fs, fid, &s);
	if (ret)
		return ret;
	memcpy(&fsid, &s.f_fsid, MIN(sizeof(fsid), sizeof(s.f_fsid)));
	p9_put_u32(r->out, (u32)s.f_type);
	p9_put_u32(r->out, (u32)s.f_bsize);
	p9_put_u64(r->out, s.f_blocks);
	p9_put_u64(r->out, s.f_bfree);
	p9_put_u64(r->out, s.f_bavail);
	p9_put_u64(r->out, s.f_files);
	p9_put_u64(r->out, s.f_ffree);
	p9_put_u64(r->out, fsid);
	p9_put_u32(r->out, (u32)s.f_namelen);
	return 0;
}

/* Rmkdir, Rsymlink, Rmknod: just the new qid. */
static int put_qid_or(struct p9_req *r, int ret, const struct p9_qid *qid)
{
	if (ret)
		return ret;
	p9_put_qid(r->out, qid);
	return 0;
}

static int h_mkdir(struct p9_req *r)
{
	char name[P9_NAME_MAX + 1];
	u32 dfid = p9_get_u32(&r->in), mode;
	struct p9_qid qid;
	int ret = get_name(r, name);

	mode = p9_get_u32(&r->in);
	p9_get_u32(&r->in);	/* gid */
	if (r->in.bad)
		return -EINVAL;
	if (ret)
		return ret;
	return put_qid_or(r, p9_fs_mkdir(r->fs, dfid, name, mode, &qid), &qid);
}

static int h_symlink(struct p9_req *r)
{
	char name[P9_NAME_MAX + 1], target[P9_TARGET_MAX + 1];
	u32 fid = p9_get_u32(&r->in);
	struct p9_str name_s = p9_get_str(&r->in), target_s = p9_get_str(&r->in);
	struct p9_qid qid;
	int ret;

	p9_get_u32(&r->in);	/* gid */
	if (r->in.bad)
		return -EINVAL;
	ret = p9_str_to_cstr(name_s, name, sizeof(name));
	if (!ret)
		ret = p9_str_to_cstr(target_s, target, sizeof(target));
	if (ret)
		return ret;
	return put_qid_or(r, p9_fs_symlink(r->fs, fid, name, target, &qid), &qid);
}

static int h_mknod(struct p9_req *r)
{
	char name[P9_NAME_MAX + 1];
	u32 dfid = p9_get_u32(&r->in), mode, major, minor;
	struct p9_qid qid;
	int ret = get_name(r, name);

	mode = p9_get_u32(&r->in);
	major = p9_get_u32(&r->in);
	minor = p9_get_u32(&r->in);
	p9_get_u32(&r->in);	/* gid */
	if (r->in.bad)
		return -EINVAL;
	if (ret)
		return ret;
	return put_qid_or(r, p9_fs_mknod(r->fs, dfid, name, mode, major, minor, &qid), &qid);
}

static int h_rename(struct p9_req *r)
{
	char name[P9_NAME_MAX + 1];
	u32 fid = p9_get_u32(&r->in), dfid = p9_get_u32(&r->in);
	int ret = get_name(r, name);

	if (ret)
		return ret;
	return p9_fs_rename(r->fs, fid, dfid, name);
}

static int h_renameat(struct p9_req *r)
{
	char oldname[P9_NAME_MAX + 1], newname[P9_NAME_MAX + 1];
	u32 olddfid = p9_get_u32(&r->in), newdfid;
	int ret = get_name(r, oldname);

	newdfid = p9_get_u32(&r->in);
	if (!ret)
		ret = get_name(r, newname);
	if (r->in.bad)
		return -EINVAL;
	if (ret)
		return ret;
	return p9_fs_renameat(r->fs, olddfid, oldname, newdfid, newname);
}

static int h_unlinkat(struct p9_req *r)
{
	char name[P9_NAME_MAX + 1];
	u32 dfid = p9_get_u32(&r->in), flags;
	int ret = get_name(r, name);

	flags = p9_get_u32(&r->in);
	if (r->in.bad)
		return -EINVAL;
	if (ret)
		return ret;
	return p9_fs_unlinkat(r->fs, dfid, name, flags);
}

static int h_link(struct p9_req *r)
{
	char name[P9_NAME_MAX + 1];
	u32 dfid = p9_get_u32(&r->in), fid = p9_get_u32(&r->in);
	int ret = get_name(r, name);

	if (ret)
		return ret;
	return p9_fs_link(r->fs, dfid, fid, name);
}

static int h_readlink(struct p9_req *r)
{
	char target[P9_TARGET_MAX + 1];
	u32 fid = p9_get_u32(&r->in);
	int n;

	if (r->in.bad)
		return -EINVAL;
	n = p9_fs_readlink(r->fs, fid, target, sizeof(target));
	if (n < 0)
		return n;
	p9_put_strn(r->out, target, (size_t)n);
	return 0;
}

static int h_fsync(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	u32 datasync = 0;

	if (r->in.bad)
		return -EINVAL;
	/* Linux adds datasync[4] to the protocol's fid[4]; older clients don't. */
	if (p9_in_left(&r->in) >= 4)
		datasync = p9_get_u32(&r->in);
	return p9_fs_fsync(r->fs, fid, datasync != 0);
}

static int h_lock(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	u8 type = p9_get_u8(&r->in), status;
	int ret;

	p9_get_u32(&r->in);	/* flags */
	p9_get_u64(&r->in);	/* start */
	p9_get_u64(&r->in);	/* length */
	p9_get_u32(&r->in);	/* proc_id */
	p9_get_str(&r->in);	/* client_id */
	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_lock(r->fs, fid, type, &status);
	if (ret)
		return ret;
	p9_put_u8(r->out, status);
	return 0;
}

static int h_getlock(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	u8 type = p9_get_u8(&r->in);
	u64 start = p9_get_u64(&r->in), length = p9_get_u64(&r->in);
	u32 proc_id = p9_get_u32(&r->in);
	struct p9_str client = p9_get_str(&r->in);
	int ret;

	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_getlock(r->fs, fid, &type);
	if (ret)
		return ret;
	p9_put_u8(r->out, type);
	p9_put_u64(r->out, start);
	p9_put_u64(r->out, length);
	p9_put_u32(r->out, proc_id);
	p9_put_strn(r->out, client.s, client.len);
	return 0;
}

static int h_xattrwalk(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	int ret;

	p9_get_u32(&r->in);	/* newfid */
	p9_get_str(&r->in);	/* name */
	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_fid_valid(r->fs, fid);
	return ret ? ret : -EOPNOTSUPP;
}

static int h_xattrcreate(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);
	int ret;

	p9_get_str(&r->in);	/* name */
	p9_get_u64(&r->in);	/* attr_size */
	p9_get_u32(&r->in);	/* flags */
	if (r->in.bad)
		return -EINVAL;
	ret = p9_fs_fid_valid(r->fs, fid);
	return ret ? ret : -EOPNOTSUPP;
}

static int h_clunk(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);

	return r->in.bad ? -EINVAL : p9_fs_clunk(r->fs, fid);
}

static int h_remove(struct p9_req *r)
{
	u32 fid = p9_get_u32(&r->in);

	return r->in.bad ? -EINVAL : p9_fs_remove(r->fs, fid);
}

static const p9_handler handlers[256] = {
	[P9_TSTATFS] = h_statfs,
	[P9_TLOPEN] = h_lopen,
	[P9_TLCREATE] = h_lcreate,
	[P9_TSYMLINK] = h_symlink,
	[P9_TMKNOD] = h_mknod,
	[P9_TRENAME] = h_rename,
	[P9_TREADLINK] = h_readlink,
	[P9_TGETATTR] = h_getattr,
	[P9_TSETATTR] = h_setattr,
	[P9_TXATTRWALK] = h_xattrwalk,
	[P9_TXATTRCREATE] = h_xattrcreate,
	[P9_TREADDIR] = h_readdir,
	[P9_TFSYNC] = h_fsync,
	[P9_TLOCK] = h_lock,
	[P9_TGETLOCK] = h_getlock,
	[P9_TLINK] = h_link,
	[P9_TMKDIR] = h_mkdir,
	[P9_TRENAMEAT] = h_renameat,
	[P9_TUNLINKAT] = h_unlinkat,
	[P9_TVERSION] = h_version,
	[P9_TAUTH] = h_auth,
	[P9_TATTACH] = h_attach,
	[P9_TFLUSH] = h_flush,
	[P9_TWALK] = h_walk,
	[P9_TREAD] = h_read,
	[P9_TWRITE] = h_write,
	[P9_TCLUNK] = h_clunk,
	[P9_TREMOVE] = h_remove,
};

static u32 put_error(struct p9_out *out, u16 tag, int err)
{
	p9_msg_begin(out, P9_RLERROR, tag);
	p9_put_u32(out, (u32)err);
	return p9_msg_end(out);
}

u32 p9_handle(struct p9_fs *fs, const void *req, u32 req_len, void *reply, u32 reply_cap)
{
	struct p9_req r = { .fs = fs };
	struct p9_out out;
	u32 size, len;
	u8 type;
	u16 tag;
	int ret;

	p9_out_init(&out, reply, reply_cap);
	r.out = &out;
	p9_in_init(&r.in, req, req_len);
	size = p9_get_u32(&r.in);
	type = p9_get_u8(&r.in);
	tag = p9_get_u16(&r.in);
	if (r.in.bad)
		return put_error(&out, P9_NOTAG, EINVAL);
	/* The size field must cover the header and lie within what arrived. */
	if (size < P9_HDR_SIZE || size > req_len)
		return put_error(&out, tag, EINVAL);
	r.in.len = size;
	if (!handlers[type])
		return put_error(&out, tag, EOPNOTSUPP);
	p9_msg_begin(&out, type + 1, tag);
	ret = handlers[type](&r);
	if (ret)
		return put_error(&out, tag, -ret);
	len = p9_msg_end(&out);
	return len ? len : put_error(&out, tag, EMSGSIZE);
}
