/*
 * The 9P2000.L operations on the host file system, for one export.
 *
 * Confinement (see 9p-path.c): a fid is an O_PATH descriptor of an object
 * inside the export; nothing is looked up by a path string the guest
 * made.  Operations that create, remove or rename act on (directory fd,
 * checked name) pairs with *at() calls that do not follow a final symlink.
 *
 * Opening: an O_PATH fd is reopened through /proc/self/fd, which gives
 * exactly the inode the fid names.  Device nodes are never opened (they
 * would reach devices, i.e. outside the export) and the guest cannot
 * create any; set-user/group-ID bits are not passed on to created or
 * chmod-ed files (lkvm may run as root).  Every access uses lkvm's own
 * credentials; the guest's uid/gid fields are not applied on creation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "lkvm/virtio-9p.h"

static int neg_errno(long ret)
{
	return ret < 0 ? -errno : (int)ret;
}

static u64 qid_path(const struct p9_fs *fs, dev_t dev, ino_t ino)
{
	/* Another file system mounted inside the export: keep inodes apart. */
	if (dev == fs->root_dev)
		return ino;
	return ino ^ (((u64)major(dev) << 56) | ((u64)(minor(dev) & 0xff) << 48));
}

static u8 qid_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return P9_QTDIR;
	return S_ISLNK(mode) ? P9_QTSYMLINK : P9_QTFILE;
}

void p9_qid_from_stat(const struct p9_fs *fs, const struct stat *st, struct p9_qid *qid)
{
	qid->type = qid_type(st->st_mode);
	qid->version = 0;
	qid->path = qid_path(fs, st->st_dev, st->st_ino);
}

/* Mode bits the guest may give a new or chmod-ed file. */
static mode_t safe_mode(u32 mode, bool dir)
{
	mode_t m = mode & 07777 & ~S_ISUID;

	return dir ? m : m & ~S_ISGID;
}

/* ---- export set-up ---- */

static mode_t process_umask(void)
{
	char line[128];
	unsigned int m;
	FILE *f = fopen("/proc/self/status", "re");
	mode_t found = 022;

	if (!f)
		return found;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &m) == 1)
			found = m & 0777;
	fclose(f);
	return found;
}

int p9_fs_init(struct p9_fs *fs, const char *dir, bool readonly)
{
	struct stat st;
	int ret;

	memset(fs, 0, sizeof(*fs));
	fs->root_fd = fs->proc_fd = -1;
	p9_fid_table_init(&fs->fids);
	fs->readonly = readonly;
	fs->msize = P9_MAX_MSIZE;
	fs->root_path = realpath(dir, NULL);
	if (!fs->root_path) {
		ret = -errno;
		goto fail;
	}
	fs->root_fd = neg_errno(open(fs->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC));
	fs->proc_fd = neg_errno(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
	ret = fs->root_fd < 0 ? fs->root_fd : fs->proc_fd;
	if (ret < 0)
		goto fail;
	/* After the export's own descriptors: the pool is sized without them. */
	fd_budget_init(&fs->fd_budget, "9p", P9_MAX_FDS);
	ret = p9_fstat(fs->root_fd, &st);
	if (ret)
		goto fail;
	fs->root_dev = st.st_dev;
	fs->root_ino = st.st_ino;
	fs->umask = process_umask();
	fs->use_openat2 = p9_openat2_works(fs->root_fd);
	return 0;
fail:
	p9_fs_destroy(fs);
	return ret;
}

void p9_fs_destroy(struct p9_fs *fs)
{
	p9_fid_table_destroy(&fs->fids);
	if (fs->root_fd >= 0)
		close(fs->root_fd);
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
	free(fs->root_path);
	fs->root_path = NULL;
	fs->root_fd = fs->proc_fd = -1;
}

void p9_fs_reset(struct p9_fs *fs)
{
	p9_fid_remove_all(&fs->fids);
	__atomic_store_n(&fs->msize, P9_MAX_MSIZE, __ATOMIC_RELAXED);
}

/* ---- fid lookups for the operations ---- */

static int get_fid(struct p9_fs *fs, u32 id, struct p9_fid **out)
{
	*out = p9_fid_get(&fs->fids, id);
	return *out ? 0 : -EBADF;
}

/* A directory fid in which name is to be created, removed or renamed. */
static int get_dir_for(struct p9_fs *fs, u32 id, const char *name, bool modify,
		       struct p9_fid **out)
{
	int ret = get_fid(fs, id, out);

	if (ret)
		return ret;
	if ((*out)->type != S_IFDIR)
		ret = -ENOTDIR;
	else if (p9_name_check(name))
		ret = -EINVAL;
	else if (modify && fs->readonly)
		ret = -EROFS;
	if (ret) {
		p9_fid_put(*out);
		*out = NULL;
	}
	return ret;
}

static int open_fd_of(struct p9_fid *fid, int *acc)
{
	int fd = __atomic_load_n(&fid->open_fd, __ATOMIC_ACQUIRE);

	if (acc)
		*acc = fid->open_acc;
	return fd;
}

/* ---- attach, walk, clunk ---- */

int p9_fs_attach(struct p9_fs *fs, u32 id, struct p9_qid *qid)
{
	struct p9_fid *fid;
	struct stat st;
	int fd, ret;

	if (!fd_budget_take(&fs->fd_budget, 1))
		return -EMFILE;
	fd = p9_dup_fd(fs->root_fd);
	ret = fd < 0 ? fd : p9_fstat(fd, &st);
	fid = ret ? NULL : p9_fid_new(fd, st.st_mode, &fs->fd_budget);
	if (!fid) {
		if (fd >= 0)
			close(fd);
		fd_budget_give(&fs->fd_budget, 1);
		return ret ? ret : -ENOMEM;
	}
	ret = p9_fid_install(&fs->fids, id, fid, NULL);
	p9_fid_put(fid);
	if (!ret)
		p9_qid_from_stat(fs, &st, qid);
	return ret;
}

/* Make a fid of fd (which it then owns, or closes) and list it as id. */
static int install_fd(struct p9_fs *fs, u32 id, int fd, mode_t type, struct p9_fid *replacing)
{
	struct p9_fid *fid = NULL;
	int ret = -ENOMEM;

	if (fd_budget_take(&fs->fd_budget, 1)) {
		fid = p9_fid_new(fd, type, &fs->fd_budget);
		if (!fid)
			fd_budget_give(&fs->fd_budget, 1);
	} else {
		ret = -EMFILE;
	}
	if (!fid) {
		close(fd);
		return ret;
	}
	ret = p9_fid_install(&fs->fids, id, fid, replacing);
	p9_fid_put(fid);
	return ret;
}

int p9_fs_walk(struct p9_fs *fs, u32 id, u32 newid, unsigned int nwname,
	       char names[][P9_NAME_MAX + 1], struct p9_qid *qids, unsigned int *nwqid)
{
	struct p9_fid *fid;
	struct stat st;
	unsigned int i;
	int cur, next, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	if (nwname > P9_MAX_WALK) {
		p9_fid_put(fid);
		return -EINVAL;
	}
	st.st_mode = fid->type;
	cur = p9_dup_fd(fid->fd);
	for (i = 0; i < nwname && cur >= 0; i++) {
		next = p9_open_child(fs, cur, names[i]);
		ret = next < 0 ? next : p9_fstat(next, &st);
		if (ret) {
			if (next >= 0)
				close(next);
			break;
		}
		close(cur);
		cur = next;
		p9_qid_from_stat(fs, &st, &qids[i]);
	}
	if (cur < 0)
		ret = cur;
	*nwqid = i;
	if (i == nwname && cur >= 0) {
		/* Complete: newfid names the last object (with no names, a clone). */
		ret = install_fd(fs, newid, cur, st.st_mode, newid == id ? fid : NULL);
	} else {
		if (cur >= 0)
			close(cur);
		/* A partial walk succeeds with fewer qids; the first step must not fail. */
		ret = i ? 0 : ret;
	}
	p9_fid_put(fid);
	return ret;
}

int p9_fs_clunk(struct p9_fs *fs, u32 id)
{
	return p9_fid_remove(&fs->fids, id);
}

int p9_fs_fid_valid(struct p9_fs *fs, u32 id)
{
	struct p9_fid *fid;
	int ret = get_fid(fs, id, &fid);

	p9_fid_put(fid);
	return ret;
}

/* ---- open, create, read, write ---- */

/* Host open flags for protocol flags; *acc gets the access mode. */
static int host_open_flags(u32 f, int *acc)
{
	int flags = O_NOCTTY;

	switch (f & P9_DOTL_ACCMODE) {
	case P9_DOTL_RDONLY: *acc = O_RDONLY; break;
	case P9_DOTL_WRONLY: *acc = O_WRONLY; break;
	case P9_DOTL_RDWR: *acc = O_RDWR; break;
	default: return -EINVAL;
	}
	flags |= *acc;
	if (f & P9_DOTL_TRUNC)
		flags |= O_TRUNC;
	if (f & P9_DOTL_APPEND)
		flags |= O_APPEND;
	if (f & P9_DOTL_NONBLOCK)
		flags |= O_NONBLOCK;
	if (f & P9_DOTL_DSYNC)
		flags |= O_DSYNC;
	if (f & P9_DOTL_SYNC)
		flags |= O_SYNC;
	if (f & P9_DOTL_DIRECTORY)
		flags |= O_DIRECTORY;
	/* O_DIRECT is dropped: the data goes through lkvm's own buffers. */
	return flags;
}

/* Open the object O_PATH fd names, if the guest may open that kind of file. */
static int open_object(struct p9_fs *fs, int fd, mode_t mode, int flags, int acc)
{
	if (S_ISLNK(mode))
		return -ELOOP;
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return -EPERM;	/* a device is outside the export */
	if (S_ISSOCK(mode))
		return -ENXIO;
	if (S_ISDIR(mode) && acc != O_RDONLY)
		return -EISDIR;
	if (fs->readonly && (acc != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	/* A FIFO without a peer must not block a worker thread. */
	if (S_ISFIFO(mode))
		flags |= O_NONBLOCK;
	return p9_reopen(fs, fd, flags);
}

static void publish_open(struct p9_fid *fid, int fd, int acc)
{
	fid->open_acc = acc;
	__atomic_store_n(&fid->open_fd, fd, __ATOMIC_RELEASE);
}

int p9_fs_lopen(struct p9_fs *fs, u32 id, u32 flags, struct p9_qid *qid)
{
	struct p9_fid *fid;
	struct stat st;
	int acc, host, fd, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	host = host_open_flags(flags, &acc);
	ret = host < 0 ? host : p9_fstat(fid->fd, &st);
	pthread_mutex_lock(&fid->lock);
	if (!ret && fid->open_fd >= 0)
		ret = -EBUSY;
	if (!ret && !fd_budget_take(&fs->fd_budget, 1))
		ret = -EMFILE;
	if (!ret) {
		fd = open_object(fs, fid->fd, st.st_mode, host, acc);
		if (fd < 0) {
			ret = fd;
			fd_budget_give(&fs->fd_budget, 1);
		} else {
			publish_open(fid, fd, acc);
		}
	}
	pthread_mutex_unlock(&fid->lock);
	if (!ret)
		p9_qid_from_stat(fs, &st, qid);
	p9_fid_put(fid);
	return ret;
}

/* Create name in dir, or open it if it exists and O_EXCL was not asked. */
static int create_or_open(struct p9_fs *fs, int dir, const char *name, u32 flags,
			  int host, int acc, mode_t mode)
{
	struct stat st;
	int fd, path, ret;

	host &= ~O_DIRECTORY;
	fd = neg_errno(openat(dir, name, host | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      mode));
	if (fd >= 0) {
		/* Our umask must not narrow the mode the guest asked for. */
		if ((mode & fs->umask) && fchmod(fd, mode) < 0) {
			ret = -errno;
			close(fd);
			return ret;
		}
		return fd;
	}
	if (fd != -EEXIST || (flags & P9_DOTL_EXCL))
		return fd;
	path = p9_open_child(fs, dir, name);
	if (path < 0)
		return path;
	ret = p9_fstat(path, &st);
	fd = ret ? ret : open_object(fs, path, st.st_mode, host, acc);
	close(path);
	return fd;
}

int p9_fs_lcreate(struct p9_fs *fs, u32 id, const char *name, u32 flags, u32 mode,
		  struct p9_qid *qid)
{
	struct p9_fid *dir, *fid;
	struct stat st;
	int acc, host, fd, path, ret = get_dir_for(fs, id, name, true, &dir);

	if (ret)
		return ret;
	/* The new fid's two descriptors, before anything is created. */
	if (!fd_budget_take(&fs->fd_budget, 2)) {
		p9_fid_put(dir);
		return -EMFILE;
	}
	host = host_open_flags(flags, &acc);
	fd = host < 0 ? host : create_or_open(fs, dir->fd, name, flags, host, acc,
					       safe_mode(mode, false));
	if (fd < 0) {
		fd_budget_give(&fs->fd_budget, 2);
		p9_fid_put(dir);
		return fd;
	}
	path = p9_reopen(fs, fd, O_PATH);
	ret = path < 0 ? path : p9_fstat(path, &st);
	fid = ret ? NULL : p9_fid_new(path, st.st_mode, &fs->fd_budget);
	if (!fid) {
		if (path >= 0)
			close(path);
		close(fd);
		fd_budget_give(&fs->fd_budget, 2);
		p9_fid_put(dir);
		return ret ? ret : -ENOMEM;
	}
	publish_open(fid, fd, acc);
	/* The fid now names the new file, opened. */
	ret = p9_fid_install(&fs->fids, id, fid, dir);
	p9_fid_put(fid);
	p9_fid_put(dir);
	if (!ret)
		p9_qid_from_stat(fs, &st, qid);
	return ret;
}

ssize_t p9_fs_read(struct p9_fs *fs, u32 id, u64 offset, void *buf, u32 count)
{
	struct p9_fid *fid;
	ssize_t n;
	int acc, fd, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	fd = open_fd_of(fid, &acc);
	if (fd < 0 || acc == O_WRONLY) {
		n = -EBADF;
	} else if (offset > INT64_MAX) {
		n = -EINVAL;
	} else {
		do
			n = S_ISFIFO(fid->type) ? read(fd, buf, count)
						: pread(fd, buf, count, (off_t)offset);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			n = -errno;
	}
	p9_fid_put(fid);
	return n;
}

ssize_t p9_fs_write(struct p9_fs *fs, u32 id, u64 offset, const void *buf, u32 count)
{
	struct p9_fid *fid;
	ssize_t n;
	int acc, fd, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	fd = open_fd_of(fid, &acc);
	if (fd < 0 || acc == O_RDONLY) {
		n = fs->readonly ? -EROFS : -EBADF;
	} else if (offset > INT64_MAX) {
		n = -EINVAL;
	} else {
		do
			n = S_ISFIFO(fid->type) ? write(fd, buf, count)
						: pwrite(fd, buf, count, (off_t)offset);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			n = -errno;
	}
	p9_fid_put(fid);
	return n;
}

/* ---- directories ---- */

static u8 dtype_qid_type(unsigned char d_type)
{
	if (d_type == DT_DIR)
		return P9_QTDIR;
	return d_type == DT_LNK ? P9_QTSYMLINK : P9_QTFILE;
}

/*
 * Entries from offset on (0: the start; else a d_off we gave out), until
 * emit refuses one.  The next request starts at the last emitted d_off, so
 * what getdents read beyond it is simply read again.
 */
static int read_entries(struct p9_fs *fs, int fd, u64 offset, p9_dirent_fn emit, void *opaque)
{
	char buf[16384] __attribute__((aligned(8)));
	struct stat dir_st;
	ssize_t n;
	int ret = neg_errno(fstat(fd, &dir_st));

	if (ret)
		return ret;
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0)
		return -errno;
	while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			struct p9_dirent de = {
				.qid = { dtype_qid_type(d->d_type), 0,
					 qid_path(fs, dir_st.st_dev, d->d_ino) },
				.offset = (u64)d->d_off,
				.type = d->d_type,
				.name = d->d_name,
			};

			if (!emit(opaque, &de))
				return 0;
			pos += d->d_reclen;
		}
	}
	return n < 0 ? -errno : 0;
}

int p9_fs_readdir(struct p9_fs *fs, u32 id, u64 offset, p9_dirent_fn emit, void *opaque)
{
	struct p9_fid *fid;
	int fd, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	fd = open_fd_of(fid, NULL);
	if (fd < 0)
		ret = -EBADF;
	else if (fid->type != S_IFDIR)
		ret = -ENOTDIR;
	else if (offset > INT64_MAX)
		ret = -EINVAL;
	if (!ret) {
		/* The directory position is shared: one reader at a time. */
		pthread_mutex_lock(&fid->lock);
		ret = read_entries(fs, fd, offset, emit, opaque);
		pthread_mutex_unlock(&fid->lock);
	}
	p9_fid_put(fid);
	return ret;
}

/* ---- attributes ---- */

int p9_fs_getattr(struct p9_fs *fs, u32 id, struct stat *st)
{
	struct p9_fid *fid;
	int ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	ret = p9_fstat(fid->fd, st);
	p9_fid_put(fid);
	return ret;
}

static int set_size(struct p9_fs *fs, struct p9_fid *fid, const struct stat *st, u64 size)
{
	int acc, fd = open_fd_of(fid, &acc), ret;

	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if (size > INT64_MAX)
		return -EFBIG;
	if (fd >= 0 && acc != O_RDONLY)
		return neg_errno(ftruncate(fd, (off_t)size));
	fd = p9_reopen(fs, fid->fd, O_WRONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	ret = neg_errno(ftruncate(fd, (off_t)size));
	close(fd);
	return ret;
}

static struct timespec time_arg(u32 valid, u32 is_set, u32 set_value, u64 sec, u64 nsec)
{
	if (!(valid & is_set))
		return (struct timespec){ .tv_nsec = UTIME_OMIT };
	if (!(valid & set_value))
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	return (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = (long)nsec };
}

static int set_times(struct p9_fs *fs, struct p9_fid *fid, const struct stat *st,
		     const struct p9_setattr *sa)
{
	struct timespec ts[2] = {
		time_arg(sa->valid, P9_SETATTR_ATIME, P9_SETATTR_ATIME_SET,
			 sa->atime_sec, sa->atime_nsec),
		time_arg(sa->valid, P9_SETATTR_MTIME, P9_SETATTR_MTIME_SET,
			 sa->mtime_sec, sa->mtime_nsec),
	};
	char num[16], name[P9_NAME_MAX + 1];
	int dir, ret;

	if (ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW &&
	    (sa->atime_nsec >= 1000000000 || sa->atime_sec > INT64_MAX))
		return -EINVAL;
	if (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW &&
	    (sa->mtime_nsec >= 1000000000 || sa->mtime_sec > INT64_MAX))
		return -EINVAL;
	if (!S_ISLNK(st->st_mode)) {
		p9_fd_name(fid->fd, num);
		return neg_errno(utimensat(fs->proc_fd, num, ts, 0));
	}
	/* The link itself: by name, since /proc would follow it. */
	ret = p9_locate(fs, fid->fd, &dir, name);
	if (ret)
		return ret;
	ret = neg_errno(utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW));
	close(dir);
	return ret;
}

int p9_fs_setattr(struct p9_fs *fs, u32 id, const struct p9_setattr *sa)
{
	struct p9_fid *fid;
	struct stat st;
	char num[16];
	int ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	if (fs->readonly && (sa->valid & ~P9_SETATTR_CTIME))
		ret = -EROFS;
	if (!ret)
		ret = p9_fstat(fid->fd, &st);
	if (!ret && (sa->valid & P9_SETATTR_MODE)) {
		p9_fd_name(fid->fd, num);
		ret = S_ISLNK(st.st_mode) ? -EOPNOTSUPP :
			neg_errno(fchmodat(fs->proc_fd, num, safe_mode(sa->mode, S_ISDIR(st.st_mode)), 0));
	}
	if (!ret && (sa->valid & (P9_SETATTR_UID | P9_SETATTR_GID)))
		ret = neg_errno(fchownat(fid->fd, "",
					 sa->valid & P9_SETATTR_UID ? sa->uid : (uid_t)-1,
					 sa->valid & P9_SETATTR_GID ? sa->gid : (gid_t)-1,
					 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
	if (!ret && (sa->valid & P9_SETATTR_SIZE))
		ret = set_size(fs, fid, &st, sa->size);
	if (!ret && (sa->valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)))
		ret = set_times(fs, fid, &st, sa);
	p9_fid_put(fid);
	return ret;
}

int p9_fs_statfs(struct p9_fs *fs, u32 id, struct statfs *sfs)
{
	struct p9_fid *fid;
	int ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	ret = neg_errno(fstatfs(fid->fd, sfs));
	p9_fid_put(fid);
	return ret;
}

/* ---- creating and removing names ---- */

/*
 * After creating name in dir: its qid, and its exact mode where our umask
 * narrowed it (not through a symlink the host may have put there since).
 */
static int finish_create(struct p9_fs *fs, int dir, const char *name, mode_t mode,
			 bool fix_mode, struct p9_qid *qid)
{
	struct stat st;
	char num[16];
	int fd = p9_open_child(fs, dir, name), ret;

	if (fd < 0)
		return fd;
	ret = p9_fstat(fd, &st);
	if (!ret && fix_mode && (mode & fs->umask) && !S_ISLNK(st.st_mode)) {
		p9_fd_name(fd, num);
		ret = neg_errno(fchmodat(fs->proc_fd, num, mode, 0));
	}
	if (!ret)
		p9_qid_from_stat(fs, &st, qid);
	close(fd);
	return ret;
}

int p9_fs_mkdir(struct p9_fs *fs, u32 dfid, const char *name, u32 mode, struct p9_qid *qid)
{
	struct p9_fid *dir;
	mode_t m = safe_mode(mode, true);
	int ret = get_dir_for(fs, dfid, name, true, &dir);

	if (ret)
		return ret;
	ret = neg_errno(mkdirat(dir->fd, name, m));
	if (!ret)
		ret = finish_create(fs, dir->fd, name, m, true, qid);
	p9_fid_put(dir);
	return ret;
}

int p9_fs_symlink(struct p9_fs *fs, u32 dfid, const char *name, const char *target,
		  struct p9_qid *qid)
{
	struct p9_fid *dir;
	int ret = get_dir_for(fs, dfid, name, true, &dir);

	if (ret)
		return ret;
	/* The target is only stored; nothing here ever follows it. */
	ret = target[0] ? neg_errno(symlinkat(target, dir->fd, name)) : -ENOENT;
	if (!ret)
		ret = finish_create(fs, dir->fd, name, 0, false, qid);
	p9_fid_put(dir);
	return ret;
}

int p9_fs_mknod(struct p9_fs *fs, u32 dfid, const char *name, u32 mode, u32 major,
		u32 minor, struct p9_qid *qid)
{
	struct p9_fid *dir;
	mode_t type = mode & S_IFMT, m = safe_mode(mode, false);
	int ret;

	if (type == S_IFCHR || type == S_IFBLK)
		return -EPERM;	/* device nodes would lead out of the export */
	if (type != S_IFIFO && type != S_IFSOCK && type != S_IFREG && type != 0)
		return -EINVAL;
	ret = get_dir_for(fs, dfid, name, true, &dir);
	if (ret)
		return ret;
	ret = neg_errno(mknodat(dir->fd, name, (type ? type : S_IFREG) | m, 0));
	if (!ret)
		ret = finish_create(fs, dir->fd, name, m, true, qid);
	p9_fid_put(dir);
	return ret;
}

int p9_fs_link(struct p9_fs *fs, u32 dfid, u32 id, const char *name)
{
	struct p9_fid *dir, *fid;
	char num[16], oldname[P9_NAME_MAX + 1];
	int olddir, ret = get_dir_for(fs, dfid, name, true, &dir);

	if (ret)
		return ret;
	ret = get_fid(fs, id, &fid);
	if (ret) {
		p9_fid_put(dir);
		return ret;
	}
	if (S_ISDIR(fid->type)) {
		ret = -EPERM;
	} else {
		ret = neg_errno(linkat(fid->fd, "", dir->fd, name, AT_EMPTY_PATH));
		/* Without CAP_DAC_READ_SEARCH: by /proc, or for a symlink by name. */
		if (ret == -ENOENT && !S_ISLNK(fid->type)) {
			p9_fd_name(fid->fd, num);
			ret = neg_errno(linkat(fs->proc_fd, num, dir->fd, name, AT_SYMLINK_FOLLOW));
		} else if (ret == -ENOENT && !(ret = p9_locate(fs, fid->fd, &olddir, oldname))) {
			ret = neg_errno(linkat(olddir, oldname, dir->fd, name, 0));
			close(olddir);
		}
	}
	p9_fid_put(fid);
	p9_fid_put(dir);
	return ret;
}

int p9_fs_renameat(struct p9_fs *fs, u32 olddfid, const char *oldname, u32 newdfid,
		   const char *newname)
{
	struct p9_fid *olddir, *newdir;
	int ret = get_dir_for(fs, olddfid, oldname, true, &olddir);

	if (ret)
		return ret;
	ret = get_dir_for(fs, newdfid, newname, true, &newdir);
	if (!ret) {
		ret = neg_errno(renameat(olddir->fd, oldname, newdir->fd, newname));
		p9_fid_put(newdir);
	}
	p9_fid_put(olddir);
	return ret;
}

int p9_fs_rename(struct p9_fs *fs, u32 id, u32 dfid, const char *name)
{
	struct p9_fid *fid, *dir;
	char oldname[P9_NAME_MAX + 1];
	int olddir, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	ret = get_dir_for(fs, dfid, name, true, &dir);
	if (!ret) {
		ret = p9_locate(fs, fid->fd, &olddir, oldname);
		if (!ret) {
			ret = neg_errno(renameat(olddir, oldname, dir->fd, name));
			close(olddir);
		}
		p9_fid_put(dir);
	}
	p9_fid_put(fid);
	return ret;
}

int p9_fs_unlinkat(struct p9_fs *fs, u32 dfid, const char *name, u32 flags)
{
	struct p9_fid *dir;
	int ret;

	if (flags & ~P9_AT_REMOVEDIR)
		return -EINVAL;
	ret = get_dir_for(fs, dfid, name, true, &dir);
	if (ret)
		return ret;
	ret = neg_errno(unlinkat(dir->fd, name, flags ? AT_REMOVEDIR : 0));
	p9_fid_put(dir);
	return ret;
}

int p9_fs_remove(struct p9_fs *fs, u32 id)
{
	struct p9_fid *fid;
	char name[P9_NAME_MAX + 1];
	int dir, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	ret = fs->readonly ? -EROFS : p9_locate(fs, fid->fd, &dir, name);
	if (!ret) {
		ret = neg_errno(unlinkat(dir, name, S_ISDIR(fid->type) ? AT_REMOVEDIR : 0));
		close(dir);
	}
	p9_fid_put(fid);
	p9_fid_remove(&fs->fids, id);
	return ret;
}

/* ---- the rest ---- */

int p9_fs_readlink(struct p9_fs *fs, u32 id, char *buf, size_t cap)
{
	struct p9_fid *fid;
	ssize_t n;
	int ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	if (!S_ISLNK(fid->type)) {
		ret = -EINVAL;
	} else {
		n = readlinkat(fid->fd, "", buf, cap - 1);
		if (n < 0) {
			ret = -errno;
		} else {
			buf[n] = '\0';
			ret = (int)n;
		}
	}
	p9_fid_put(fid);
	return ret;
}

int p9_fs_fsync(struct p9_fs *fs, u32 id, bool datasync)
{
	struct p9_fid *fid;
	int fd, ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	fd = open_fd_of(fid, NULL);
	if (fd < 0)
		ret = -EBADF;
	else
		ret = neg_errno(datasync ? fdatasync(fd) : fsync(fd));
	p9_fid_put(fid);
	return ret;
}

/*
 * Byte-range locks: the guest kernel arbitrates between its own processes
 * before it sends Tlock, and lkvm holding host locks on their behalf would
 * get POSIX's per-process semantics wrong (one lkvm process, any close
 * drops them).  So a valid request on an open fid is granted and the host
 * sees no lock, as with other 9p servers.
 */
int p9_fs_lock(struct p9_fs *fs, u32 id, u8 type, u8 *status)
{
	struct p9_fid *fid;
	int ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	if (open_fd_of(fid, NULL) < 0)
		ret = -EBADF;
	else if (type > P9_LOCK_TYPE_UNLCK)
		ret = -EINVAL;
	*status = P9_LOCK_SUCCESS;
	p9_fid_put(fid);
	return ret;
}

int p9_fs_getlock(struct p9_fs *fs, u32 id, u8 *type)
{
	struct p9_fid *fid;
	int ret = get_fid(fs, id, &fid);

	if (ret)
		return ret;
	if (open_fd_of(fid, NULL) < 0)
		ret = -EBADF;
	else if (*type > P9_LOCK_TYPE_UNLCK)
		ret = -EINVAL;
	*type = P9_LOCK_TYPE_UNLCK;	/* nothing on the host conflicts */
	p9_fid_put(fid);
	return ret;
}
