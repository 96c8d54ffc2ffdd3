/*
 * Names to descriptors without ever leaving the export.
 *
 * A walk takes one checked component at a time (never empty, no '/') and
 * opens it with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_SYMLINKS) or, before Linux 5.6, openat(O_NOFOLLOW): a
 * symlink is opened as itself and never walked through, whatever the host
 * swaps in meanwhile.  ".." is resolved here: the root is its own parent,
 * and a parent is accepted only if walking up from it reaches the root
 * (the host may have moved a directory out of the export).
 *
 * Operations on a fid's own name (Trename, Tremove, a symlink's times) ask
 * /proc/self/fd where the object is, reopen that directory beneath the
 * root, and check that the name still leads to the same inode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include "lkvm/virtio-9p.h"

#define RESOLVE_CONFINED (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)
/* Deeper than this, a ".." check gives up (no real tree is this deep). */
#define MAX_DEPTH 4096

static int neg_errno(long ret)
{
	return ret < 0 ? -errno : (int)ret;
}

int p9_dup_fd(int fd)
{
	return neg_errno(fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

int p9_fstat(int fd, struct stat *st)
{
	return neg_errno(fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
}

void p9_fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static bool is_root(const struct p9_fs *fs, const struct stat *st)
{
	return st->st_dev == fs->root_dev && st->st_ino == fs->root_ino;
}

bool p9_openat2_works(int dirfd)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_CONFINED };
	long fd = syscall(SYS_openat2, dirfd, ".", &how, sizeof(how));

	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

int p9_name_check(const char *name)
{
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

static int open_confined(struct p9_fs *fs, int dirfd, const char *path, int flags)
{
	struct open_how how = { .flags = (u64)(flags | O_CLOEXEC), .resolve = RESOLVE_CONFINED };
	long fd;

	if (!__atomic_load_n(&fs->use_openat2, __ATOMIC_RELAXED))
		return -ENOSYS;
	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		__atomic_store_n(&fs->use_openat2, false, __ATOMIC_RELAXED);
	return neg_errno(fd);
}

/* Is directory fd the root or below it?  0, or -ENOENT if it left the tree. */
static int check_beneath(struct p9_fs *fs, int fd)
{
	struct stat st, up_st;
	int cur = p9_dup_fd(fd), up, ret = -ELOOP;

	if (cur < 0)
		return cur;
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		ret = p9_fstat(cur, &st);
		if (ret || is_root(fs, &st))
			break;
		up = neg_errno(openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
		ret = up < 0 ? up : p9_fstat(up, &up_st);
		if (!ret && same_inode(&st, &up_st))
			ret = -ENOENT;	/* reached "/" without passing the root */
		close(cur);
		cur = up;
		if (ret)
			break;
		ret = -ELOOP;
	}
	if (cur >= 0)
		close(cur);
	return ret;
}

int p9_open_parent(struct p9_fs *fs, int fd)
{
	struct stat st;
	int parent, ret = p9_fstat(fd, &st);

	if (ret)
		return ret;
	if (is_root(fs, &st))
		return p9_dup_fd(fs->root_fd);
	parent = neg_errno(openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (parent < 0)
		return parent;
	ret = check_beneath(fs, parent);
	if (ret) {
		close(parent);
		return ret;
	}
	return parent;
}

int p9_open_child(struct p9_fs *fs, int dirfd, const char *name)
{
	int fd;

	if (!name[0] || strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".."))
		return p9_open_parent(fs, dirfd);
	fd = open_confined(fs, dirfd, name, O_PATH | O_NOFOLLOW);
	if (fd != -ENOSYS)
		return fd;
	/* A single checked component: O_NOFOLLOW is all the confinement needed. */
	return neg_errno(openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
}

/* Directory at rel (a path the kernel gave us, relative to the root). */
static int open_dir_beneath(struct p9_fs *fs, char *rel)
{
	char *save = NULL, *part;
	int cur, next;

	cur = open_confined(fs, fs->root_fd, rel, O_PATH | O_DIRECTORY);
	if (cur != -ENOSYS)
		return cur;
	cur = p9_dup_fd(fs->root_fd);
	for (part = strtok_r(rel, "/", &save); part && cur >= 0;
	     part = strtok_r(NULL, "/", &save)) {
		next = p9_name_check(part) ? -ENOENT : p9_open_child(fs, cur, part);
		close(cur);
		cur = next;
	}
	return cur;
}

int p9_locate(struct p9_fs *fs, int fd, int *dirfd, char name[P9_NAME_MAX + 1])
{
	size_t root_len = strlen(fs->root_path);
	char link[PATH_MAX + 1], num[16], *rel, *slash, *base;
	struct stat want, got;
	ssize_t n;
	int dir, ret;

	p9_fd_name(fd, num);
	n = readlinkat(fs->proc_fd, num, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(link) - 1)
		return -ENAMETOOLONG;
	link[n] = '\0';
	if (strncmp(link, fs->root_path, root_len))
		return -ENOENT;
	rel = link + root_len;
	if (root_len > 1 && *rel++ != '/')
		return rel[-1] ? -ENOENT : -EBUSY;
	if (!*rel)
		return -EBUSY;
	slash = strrchr(rel, '/');
	base = slash ? slash + 1 : rel;
	if (strlen(base) > P9_NAME_MAX || p9_name_check(base))
		return -ENOENT;
	if (slash)
		*slash = '\0';
	dir = slash ? open_dir_beneath(fs, rel) : p9_dup_fd(fs->root_fd);
	if (dir < 0)
		return dir;
	/* The path was a snapshot: make sure it still names fd's object. */
	ret = p9_fstat(fd, &want);
	if (!ret)
		ret = neg_errno(fstatat(dir, base, &got, AT_SYMLINK_NOFOLLOW));
	if (!ret && !same_inode(&want, &got))
		ret = -ENOENT;
	if (ret) {
		close(dir);
		return ret;
	}
	strcpy(name, base);
	*dirfd = dir;
	return 0;
}

int p9_reopen(struct p9_fs *fs, int fd, int flags)
{
	char num[16];

	p9_fd_name(fd, num);
	return neg_errno(openat(fs->proc_fd, num, flags | O_CLOEXEC));
}
