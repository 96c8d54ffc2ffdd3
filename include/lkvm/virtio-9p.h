#ifndef LKVM_VIRTIO_9P_H
#define LKVM_VIRTIO_9P_H
/*
 * virtio-9p (device id 9): a host directory exported to the guest over
 * 9P2000.L, as Linux's v9fs mounts it:
 *	mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt
 *
 * The first part is what lkvm's set-up calls; the rest is the server's
 * internals, shared by virtio/9p*.c and the unit tests.  Layers:
 *
 *   codec    (9p-proto.c)  bounds-checked little-endian reader/writer
 *   dispatch (9p-proto.c)  one T-message in, one R-message out
 *   fids     (9p-fid.c)    the guest's fid numbers -> refcounted host fds
 *   paths    (9p-path.c)   names -> fds, never leaving the export
 *   fs       (9p-fs.c)     the operations on the host file system
 *   virtio   (9p.c)        the request queue and its worker threads
 *
 * Everything below the transport is thread-safe: several workers serve the
 * requests of one session at once.
 */
#include <limits.h>
#include <stdbool.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include "lkvm/compiler.h"
#include "lkvm/fd-budget.h"

struct kvm;
struct virtio_device;

/* ---- set-up (lkvm run --9p) ---- */

#define P9_TAG_MAX 64u		/* mount tag bytes */

struct p9_params {
	char dir[PATH_MAX];
	char tag[P9_TAG_MAX + 1];
	bool readonly;
};

/*
 * Parse a --9p spec "DIR,TAG[,ro]" (no commas in DIR or TAG).  0, or -1
 * with *why saying what is wrong.  Does not look at the file system.
 */
int virtio_9p_parse_spec(const char *spec, struct p9_params *p, const char **why);
/*
 * Create the device (not attached to a transport yet) exporting p->dir.
 * 0 and *out, or -errno after printing a message naming the directory.
 */
int virtio_9p_init(struct kvm *kvm, const struct p9_params *p, struct virtio_device **out);
/* Stop and free a device from virtio_9p_init (after the VM stopped). */
void virtio_9p_exit(struct virtio_device *vdev);

/* ---- server internals ---- */
/* ---- wire constants ---- */

enum p9_msg_type {
	P9_TLERROR = 6, P9_RLERROR,
	P9_TSTATFS = 8, P9_RSTATFS,
	P9_TLOPEN = 12, P9_RLOPEN,
	P9_TLCREATE = 14, P9_RLCREATE,
	P9_TSYMLINK = 16, P9_RSYMLINK,
	P9_TMKNOD = 18, P9_RMKNOD,
	P9_TRENAME = 20, P9_RRENAME,
	P9_TREADLINK = 22, P9_RREADLINK,
	P9_TGETATTR = 24, P9_RGETATTR,
	P9_TSETATTR = 26, P9_RSETATTR,
	P9_TXATTRWALK = 30, P9_RXATTRWALK,
	P9_TXATTRCREATE = 32, P9_RXATTRCREATE,
	P9_TREADDIR = 40, P9_RREADDIR,
	P9_TFSYNC = 50, P9_RFSYNC,
	P9_TLOCK = 52, P9_RLOCK,
	P9_TGETLOCK = 54, P9_RGETLOCK,
	P9_TLINK = 70, P9_RLINK,
	P9_TMKDIR = 72, P9_RMKDIR,
	P9_TRENAMEAT = 74, P9_RRENAMEAT,
	P9_TUNLINKAT = 76, P9_RUNLINKAT,
	P9_TVERSION = 100, P9_RVERSION,
	P9_TAUTH = 102, P9_RAUTH,
	P9_TATTACH = 104, P9_RATTACH,
	P9_TFLUSH = 108, P9_RFLUSH,
	P9_TWALK = 110, P9_RWALK,
	P9_TREAD = 116, P9_RREAD,
	P9_TWRITE = 118, P9_RWRITE,
	P9_TCLUNK = 120, P9_RCLUNK,
	P9_TREMOVE = 122, P9_RREMOVE,
};

#define P9_VERSION_L "9P2000.L"
#define P9_NOTAG 0xffffu
#define P9_NOFID 0xffffffffu
#define P9_HDR_SIZE 7u		/* size[4] type[1] tag[2] */
#define P9_QID_SIZE 13u
#define P9_MAX_WALK 16u		/* names in one Twalk */
#define P9_MIN_MSIZE 4096u
#define P9_MAX_MSIZE (512u * 1024)
#define P9_RW_HDR_SIZE 11u	/* Rread/Rreaddir: header plus count[4] */
#define P9_NAME_MAX 255u	/* one path component */
#define P9_TARGET_MAX 4095u	/* symlink target, without the NUL */

/* qid.type: the file type in the high bits of a Plan 9 mode. */
#define P9_QTDIR 0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE 0x00

/* Tgetattr request_mask / Rgetattr valid. */
#define P9_GETATTR_BASIC 0x7ffull	/* mode .. blocks, the POSIX stat */

/* Tsetattr valid. */
#define P9_SETATTR_MODE 0x001u
#define P9_SETATTR_UID 0x002u
#define P9_SETATTR_GID 0x004u
#define P9_SETATTR_SIZE 0x008u
#define P9_SETATTR_ATIME 0x010u
#define P9_SETATTR_MTIME 0x020u
#define P9_SETATTR_CTIME 0x040u
#define P9_SETATTR_ATIME_SET 0x080u
#define P9_SETATTR_MTIME_SET 0x100u

/*
 * Tlopen/Tlcreate flags: Linux's generic open flag values, fixed by the
 * protocol whatever the host architecture uses.
 */
#define P9_DOTL_ACCMODE 00000003u
#define P9_DOTL_RDONLY 00000000u
#define P9_DOTL_WRONLY 00000001u
#define P9_DOTL_RDWR 00000002u
#define P9_DOTL_CREATE 00000100u
#define P9_DOTL_EXCL 00000200u
#define P9_DOTL_TRUNC 00001000u
#define P9_DOTL_APPEND 00002000u
#define P9_DOTL_NONBLOCK 00004000u
#define P9_DOTL_DSYNC 00010000u
#define P9_DOTL_DIRECTORY 00200000u
#define P9_DOTL_SYNC 04000000u

/* Tunlinkat flags. */
#define P9_AT_REMOVEDIR 0x200u

/* Tlock / Tgetlock. */
#define P9_LOCK_TYPE_RDLCK 0
#define P9_LOCK_TYPE_WRLCK 1
#define P9_LOCK_TYPE_UNLCK 2
#define P9_LOCK_SUCCESS 0
#define P9_LOCK_BLOCKED 1
#define P9_LOCK_ERROR 2

/* ---- codec ---- */

/* Reader over one received message; any overrun sets bad and yields 0s. */
struct p9_in {
	const u8 *buf;
	u32 len;
	u32 pos;
	bool bad;
};

/* A string inside the message: not NUL-terminated, may contain NULs. */
struct p9_str {
	const char *s;
	u16 len;
};

struct p9_qid {
	u8 type;
	u32 version;
	u64 path;
};

void p9_in_init(struct p9_in *in, const void *buf, u32 len);
u8 p9_get_u8(struct p9_in *in);
u16 p9_get_u16(struct p9_in *in);
u32 p9_get_u32(struct p9_in *in);
u64 p9_get_u64(struct p9_in *in);
struct p9_str p9_get_str(struct p9_in *in);
struct p9_qid p9_get_qid(struct p9_in *in);
/* Pointer to the next n bytes (consumed), or NULL and bad. */
const void *p9_get_bytes(struct p9_in *in, u32 n);
u32 p9_in_left(const struct p9_in *in);

/*
 * Copy a string into a NUL-terminated buffer of cap bytes: 0, -EINVAL if
 * it holds a NUL byte, -ENAMETOOLONG if it does not fit.
 */
int p9_str_to_cstr(struct p9_str str, char *buf, size_t cap);

/* Writer into a reply buffer; an overrun sets overflow and writes nothing. */
struct p9_out {
	u8 *buf;
	u32 cap;
	u32 pos;
	bool overflow;
};

void p9_out_init(struct p9_out *out, void *buf, u32 cap);
void p9_put_u8(struct p9_out *out, u8 v);
void p9_put_u16(struct p9_out *out, u16 v);
void p9_put_u32(struct p9_out *out, u32 v);
void p9_put_u64(struct p9_out *out, u64 v);
void p9_put_str(struct p9_out *out, const char *s);
void p9_put_strn(struct p9_out *out, const char *s, size_t len);
void p9_put_qid(struct p9_out *out, const struct p9_qid *qid);
void p9_put_bytes(struct p9_out *out, const void *data, u32 n);
/* Room for n bytes the caller fills in (consumed), or NULL and overflow. */
void *p9_put_reserve(struct p9_out *out, u32 n);
/* Start a message: size placeholder, type, tag. */
void p9_msg_begin(struct p9_out *out, u8 type, u16 tag);
/* Patch the size field; returns the message length, 0 after an overflow. */
u32 p9_msg_end(struct p9_out *out);

/* type and tag of a raw message; false if it is shorter than a header. */
bool p9_peek_header(const void *msg, u32 len, u8 *type, u16 *tag);

/* ---- fids (9p-fid.c) ---- */

struct p9_fid {
	u32 id;
	int refs;		/* atomic */
	int fd;			/* what the fid names: O_PATH, never changes */
	/*
	 * After Tlopen/Tlcreate: the open file.  Set once, under lock, with
	 * open_acc before it (release); readers load open_fd (acquire).
	 */
	int open_fd;
	int open_acc;		/* O_RDONLY / O_WRONLY / O_RDWR */
	mode_t type;		/* S_IFMT bits when the fid was made */
	pthread_mutex_t lock;	/* opening, and a directory's read position */
	struct fd_budget *budget;	/* charged for fd, and for open_fd once set */
	struct p9_fid *next;
};

#define P9_FID_BUCKETS 256
#define P9_MAX_FIDS 16384u
/* At most this many descriptors held by one export's fids (and the pool). */
#define P9_MAX_FDS (2 * P9_MAX_FIDS)

struct p9_fid_table {
	pthread_mutex_t lock;
	struct p9_fid *bucket[P9_FID_BUCKETS];
	unsigned int count;
};

void p9_fid_table_init(struct p9_fid_table *t);
void p9_fid_table_destroy(struct p9_fid_table *t);
/*
 * A new unlisted fid owning fd (closed with it); one reference.  fd was
 * charged to budget, and the fid gives that back (and open_fd's charge)
 * when it closes them.  NULL: ENOMEM (nothing given back).
 */
struct p9_fid *p9_fid_new(int fd, mode_t type, struct fd_budget *budget);
/* The fid numbered id with a reference taken, or NULL. */
struct p9_fid *p9_fid_get(struct p9_fid_table *t, u32 id);
void p9_fid_put(struct p9_fid *fid);
/*
 * List fid under id (the table takes its own reference).  -EEXIST if id
 * is in use (unless it is `replacing`, which is then dropped),
 * -EMFILE beyond P9_MAX_FIDS, -EBADF for P9_NOFID.
 */
int p9_fid_install(struct p9_fid_table *t, u32 id, struct p9_fid *fid,
		   struct p9_fid *replacing);
/* Unlist id and drop the table's reference; -EBADF if not in use. */
int p9_fid_remove(struct p9_fid_table *t, u32 id);
void p9_fid_remove_all(struct p9_fid_table *t);
unsigned int p9_fid_count(struct p9_fid_table *t);

/* ---- the exported tree (9p-fs.c, 9p-path.c) ---- */

struct p9_fs {
	int root_fd;		/* O_PATH of the export */
	int proc_fd;		/* /proc/self/fd, to reopen O_PATH fds */
	dev_t root_dev;
	ino_t root_ino;
	char *root_path;	/* canonical host path of the export */
	bool readonly;
	bool use_openat2;	/* probed at init; tests may clear it */
	mode_t umask;		/* the process's, to give created files exact modes */
	u32 msize;		/* atomic: negotiated by Tversion */
	struct p9_fid_table fids;
	/* The descriptors fids hold (up to two each), not the fids. */
	struct fd_budget fd_budget;
};

/* Export dir (must be a directory); 0 or -errno. */
int p9_fs_init(struct p9_fs *fs, const char *dir, bool readonly);
void p9_fs_destroy(struct p9_fs *fs);
/* Session over (Tversion, device reset): every fid clunked, msize back to max. */
void p9_fs_reset(struct p9_fs *fs);

/* Names and descriptors (9p-path.c) */
/* 0 if name may name a directory entry to create/remove: -EINVAL otherwise. */
int p9_name_check(const char *name);
/* O_PATH fd of child name of directory dirfd, a symlink not followed. */
int p9_open_child(struct p9_fs *fs, int dirfd, const char *name);
/* O_PATH fd of the parent of directory fd; the root is its own parent. */
int p9_open_parent(struct p9_fs *fs, int fd);
/*
 * Where the object fd names sits: an O_PATH fd of its directory and its
 * name there, checked to still be that object.  -EBUSY for the root.
 */
int p9_locate(struct p9_fs *fs, int fd, int *dirfd, char name[P9_NAME_MAX + 1]);
/* Reopen an O_PATH fd with real open flags (through /proc/self/fd). */
int p9_reopen(struct p9_fs *fs, int fd, int flags);
/* stat of what fd names, the link itself for a symlink. */
int p9_fstat(int fd, struct stat *st);
int p9_dup_fd(int fd);		/* close-on-exec; the fd or -errno */
/* The name of fd inside /proc/self/fd. */
void p9_fd_name(int fd, char buf[16]);
/* Can openat2 resolve beneath dirfd here (Linux >= 5.6, not filtered)? */
bool p9_openat2_works(int dirfd);

/* Operations (9p-fs.c) */
void p9_qid_from_stat(const struct p9_fs *fs, const struct stat *st, struct p9_qid *qid);

struct p9_setattr {
	u32 valid;
	u32 mode, uid, gid;
	u64 size;
	u64 atime_sec, atime_nsec, mtime_sec, mtime_nsec;
};

struct p9_dirent {
	struct p9_qid qid;
	u64 offset;		/* where the next entry starts */
	u8 type;		/* DT_* */
	const char *name;
};

/* Returns false when the entry does not fit: readdir stops before it. */
typedef bool (*p9_dirent_fn)(void *opaque, const struct p9_dirent *de);

/* Every operation returns 0 (or a count) or -errno. */
int p9_fs_attach(struct p9_fs *fs, u32 fid, struct p9_qid *qid);
/* On success *nwqid qids; fewer than nwname means newfid was not made. */
int p9_fs_walk(struct p9_fs *fs, u32 fid, u32 newfid, unsigned int nwname,
	       char names[][P9_NAME_MAX + 1], struct p9_qid *qids, unsigned int *nwqid);
int p9_fs_lopen(struct p9_fs *fs, u32 fid, u32 flags, struct p9_qid *qid);
int p9_fs_lcreate(struct p9_fs *fs, u32 fid, const char *name, u32 flags, u32 mode,
		  struct p9_qid *qid);
ssize_t p9_fs_read(struct p9_fs *fs, u32 fid, u64 offset, void *buf, u32 count);
ssize_t p9_fs_write(struct p9_fs *fs, u32 fid, u64 offset, const void *buf, u32 count);
int p9_fs_readdir(struct p9_fs *fs, u32 fid, u64 offset, p9_dirent_fn emit, void *opaque);
int p9_fs_getattr(struct p9_fs *fs, u32 fid, struct stat *st);
int p9_fs_setattr(struct p9_fs *fs, u32 fid, const struct p9_setattr *sa);
int p9_fs_mkdir(struct p9_fs *fs, u32 dfid, const char *name, u32 mode, struct p9_qid *qid);
int p9_fs_symlink(struct p9_fs *fs, u32 dfid, const char *name, const char *target,
		  struct p9_qid *qid);
int p9_fs_mknod(struct p9_fs *fs, u32 dfid, const char *name, u32 mode, u32 major,
		u32 minor, struct p9_qid *qid);
int p9_fs_link(struct p9_fs *fs, u32 dfid, u32 fid, const char *name);
int p9_fs_rename(struct p9_fs *fs, u32 fid, u32 dfid, const char *name);
int p9_fs_renameat(struct p9_fs *fs, u32 olddfid, const char *oldname, u32 newdfid,
		   const char *newname);
int p9_fs_unlinkat(struct p9_fs *fs, u32 dfid, const char *name, u32 flags);
/* Removes the file and clunks fid, even when the removal fails. */
int p9_fs_remove(struct p9_fs *fs, u32 fid);
/* Target into buf (NUL-terminated, cap > P9_TARGET_MAX); its length. */
int p9_fs_readlink(struct p9_fs *fs, u32 fid, char *buf, size_t cap);
int p9_fs_statfs(struct p9_fs *fs, u32 fid, struct statfs *sfs);
int p9_fs_fsync(struct p9_fs *fs, u32 fid, bool datasync);
/* Locks are checked, not taken on the host (see 9p-fs.c). */
int p9_fs_lock(struct p9_fs *fs, u32 fid, u8 type, u8 *status);
int p9_fs_getlock(struct p9_fs *fs, u32 fid, u8 *type);
int p9_fs_clunk(struct p9_fs *fs, u32 fid);
/* Any fid check that the xattr calls need before they say EOPNOTSUPP. */
int p9_fs_fid_valid(struct p9_fs *fs, u32 fid);

/* ---- dispatch ---- */

/*
 * Serve one request req[0, req_len) and write the reply (at most
 * reply_cap bytes) into reply.  Returns the reply length; 0 only when
 * even an Rlerror does not fit.  Malformed requests get an Rlerror.
 */
u32 p9_handle(struct p9_fs *fs, const void *req, u32 req_len, void *reply, u32 reply_cap);

#endif
