/*
 * Fuzz target: the 9P2000.L server (virtio/9p-proto.c dispatch down to
 * 9p-fs.c / 9p-path.c / 9p-fid.c) serving a stream of fuzzed T-messages on
 * a small export in a scratch directory on tmpfs.
 *
 * Input layout (little endian):
 *   0   u8   flags: 1 read-only export, 2 no openat2 (the O_NOFOLLOW walk)
 *   1   u32  reply room the "chain" offers (0: msize)
 *   5   T-messages, each starting with its own size[4]; a size of 0 or
 *       one past the end takes the rest of the input (at most 64 messages)
 *
 * Every input starts on the same tree (rebuilt each time) with no fid
 * attached, as after Tversion:
 *   export/a             "hello 9p\n"
 *   export/d/b           "in d\n"
 *   export/d/e/          empty directory
 *   export/l   -> a
 *   export/up  -> ..             (would leave the export)
 *   export/esc -> <abs>/outside/secret
 *   export/p             FIFO
 *   export/null          character device 1:3 (must never be opened)
 *   outside/secret       what the guest must never reach
 *
 * Oracles, besides ASan/UBSan/LSan: a reply fits the room given, its size
 * field is its length and its tag the request's; nothing happens in
 * outside/ or next to the export (inotify: no open, read, write, attribute
 * change, creation or removal there); no descriptor outlives the session,
 * and the descriptor budget has every charge back.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sanitizer/asan_interface.h>
#include "lkvm/virtio-9p.h"
#include "fuzz-common.h"

#define HDR_LEN 5
#define MAX_MSGS 64

static struct p9_fs fs;
static char root[512], export_dir[600], outside[600], secret[640];
static int inotify_fd = -1, outside_wd;
static struct stat secret_st, outside_st;
static int base_fds;

/* ---- the scratch tree ---- */

static void must(int ok, const char *what)
{
	if (!ok) {
		perror(what);
		exit(2);
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	must(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), path);
	close(fd);
}

static int at(const char *name, char *buf, size_t n)
{
	return snprintf(buf, n, "%s/%s", export_dir, name);
}

static void populate_export(void)
{
	char p[700];

	/* The root may have been chmod-ed or had its times changed by the guest. */
	must(!chmod(export_dir, 0755) && !chown(export_dir, 0, 0), export_dir);
	at("a", p, sizeof(p));
	write_file(p, "hello 9p\n");
	at("d", p, sizeof(p));
	must(!mkdir(p, 0755), p);
	at("d/b", p, sizeof(p));
	write_file(p, "in d\n");
	at("d/e", p, sizeof(p));
	must(!mkdir(p, 0755), p);
	at("l", p, sizeof(p));
	must(!symlink("a", p), p);
	at("up", p, sizeof(p));
	must(!symlink("..", p), p);
	at("esc", p, sizeof(p));
	must(!symlink(secret, p), p);
	at("p", p, sizeof(p));
	must(!mkfifo(p, 0644), p);
	at("null", p, sizeof(p));
	/* Needs CAP_MKNOD; without it the tree just lacks the device. */
	if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) && errno != EPERM)
		must(0, p);
}

static void empty_export(void)
{
	DIR *d = opendir(export_dir);
	struct dirent *de;
	char p[1024];

	must(d != NULL, export_dir);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", export_dir, de->d_name);
		if (fuzz_rm_rf(p)) {
			/* A directory the guest made unsearchable: open it up first. */
			chmod(p, 0755);
			must(!fuzz_rm_rf(p), p);
		}
	}
	closedir(d);
}

/*
 * Replies go at the end of one buffer of the largest msize, the part
 * before them poisoned, so ASan still sees an access past either end of
 * the cap bytes: a fresh 512 KiB allocation per message (mapped and
 * poisoned by ASan) was a third of the target's time.
 */
static u8 *reply_area;

static void setup_once(void)
{
	const char *dir = fuzz_scratch_dir("9p");

	reply_area = malloc(P9_MAX_MSIZE);

	snprintf(root, sizeof(root), "%s", dir);
	snprintf(export_dir, sizeof(export_dir), "%s/export", root);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	snprintf(secret, sizeof(secret), "%s/secret", outside);
	must(!mkdir(export_dir, 0755) && !mkdir(outside, 0755), root);
	write_file(secret, "lkvm fuzz: the guest must never see this\n");
	must(!stat(secret, &secret_st) && !stat(outside, &outside_st), secret);

	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	must(inotify_fd >= 0, "inotify_init1");
	outside_wd = inotify_add_watch(inotify_fd, outside, IN_ALL_EVENTS);
	must(outside_wd >= 0, outside);
	/* Next to the export: only new, removed or renamed entries count. */
	must(inotify_add_watch(inotify_fd, root, IN_CREATE | IN_DELETE | IN_MOVED_FROM |
			       IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF) >= 0, root);

	populate_export();
	must(!p9_fs_init(&fs, export_dir, false), "p9_fs_init");
}

/* ---- oracles ---- */

static u32 get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/*
 * Rread/Rreaddir hold exactly count bytes, no more than asked; Rwalk no
 * more qids than names.  (A request that earned one was parsed whole.)
 */
static void check_counts(const u8 *req, const u8 *reply, u32 n)
{
	u32 count, asked;
	u16 nwqid, nwname;

	switch (reply[4]) {
	case P9_RREAD:
	case P9_RREADDIR:
		FUZZ_ASSERT(n >= P9_RW_HDR_SIZE, "R%u of %u bytes", reply[4], n);
		count = get32(reply + P9_HDR_SIZE);
		asked = get32(req + P9_HDR_SIZE + 4 + 8);	/* fid, offset, count */
		FUZZ_ASSERT(n == P9_RW_HDR_SIZE + count && count <= asked,
			    "R%u: count %u, %u bytes, %u asked", reply[4], count, n, asked);
		break;
	case P9_RWALK:
		memcpy(&nwqid, reply + P9_HDR_SIZE, 2);
		memcpy(&nwname, req + P9_HDR_SIZE + 8, 2);	/* fid, newfid, nwname */
		nwqid = le16toh(nwqid);
		nwname = le16toh(nwname);
		FUZZ_ASSERT(n == P9_HDR_SIZE + 2 + P9_QID_SIZE * nwqid && nwqid <= nwname,
			    "Rwalk: %u qids in %u bytes for %u names", nwqid, n, nwname);
		break;
	}
}

static void check_reply(const u8 *req, u32 req_len, const u8 *reply, u32 n, u32 cap)
{
	u32 size;
	u16 tag = P9_NOTAG, rtag;
	u8 type = 0;

	FUZZ_ASSERT(n <= cap, "reply of %u bytes in room for %u", n, cap);
	if (!n)
		return;
	FUZZ_ASSERT(n >= P9_HDR_SIZE, "reply of %u bytes", n);
	memcpy(&size, reply, 4);
	memcpy(&rtag, reply + 5, 2);
	FUZZ_ASSERT(le32toh(size) == n, "reply size field %u, length %u", le32toh(size), n);
	if (p9_peek_header(req, req_len, &type, &tag))
		FUZZ_ASSERT(le16toh(rtag) == tag, "reply tag %u for request tag %u",
			    le16toh(rtag), tag);
	FUZZ_ASSERT(reply[4] == P9_RLERROR || reply[4] == (u8)(type + 1),
		    "reply type %u to request type %u", reply[4], type);
	if (reply[4] != P9_RLERROR)
		check_counts(req, reply, n);
}

static void check_outside(void)
{
	struct inotify_event *ev;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(inotify_fd, buf, sizeof(buf));
	struct stat st;

	if (n > 0) {
		ev = (struct inotify_event *)buf;
		FUZZ_ASSERT(0, "the session touched something outside the export: "
			    "inotify mask 0x%x on %s '%s'", ev->mask,
			    ev->wd == outside_wd ? "outside/" : "the export's parent",
			    ev->len ? ev->name : "");
	}
	must(!stat(secret, &st), secret);
	FUZZ_ASSERT(st.st_mode == secret_st.st_mode && st.st_uid == secret_st.st_uid &&
		    st.st_gid == secret_st.st_gid && st.st_size == secret_st.st_size &&
		    st.st_nlink == secret_st.st_nlink,
		    "outside/secret changed: mode 0%o uid %u gid %u size %lld links %lu",
		    st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
		    (unsigned long)st.st_nlink);
	must(!stat(outside, &st), outside);
	FUZZ_ASSERT(st.st_mode == outside_st.st_mode && st.st_uid == outside_st.st_uid &&
		    st.st_nlink == outside_st.st_nlink, "outside/ changed: mode 0%o", st.st_mode);
}

/* ---- one session ---- */

/* FUZZ_VERBOSE: one line per message, to see what a seed does. */
static void note(const u8 *req, u32 len, const u8 *reply, u32 n)
{
	u32 err = 0;

	if (n >= P9_HDR_SIZE + 4 && reply[4] == P9_RLERROR)
		memcpy(&err, reply + P9_HDR_SIZE, 4);
	fprintf(stderr, "fuzz-9p: T%u (%u bytes) -> R%u (%u bytes)%s%s\n",
		len > 4 ? req[4] : 0, len, n > 4 ? reply[4] : 0, n,
		err ? " error " : "", err ? strerror((int)le32toh(err)) : "");
}

static void serve(const u8 *msg, u32 len, u32 room)
{
	u32 msize = __atomic_load_n(&fs.msize, __ATOMIC_RELAXED);
	u32 cap = room && room < msize ? room : msize;
	/* An exact-size copy: ASan sees any access past either end. */
	u8 *req = malloc(len ? len : 1);
	u8 *reply = reply_area + P9_MAX_MSIZE - cap;
	u32 n;

	must(req && reply_area, "malloc");
	memcpy(req, msg, len);
	memset(reply, 0xbe, MIN(cap, 4096u));	/* as ASan fills a new block */
	ASAN_POISON_MEMORY_REGION(reply_area, P9_MAX_MSIZE - cap);
	n = p9_handle(&fs, req, len, reply, cap);
	check_reply(req, len, reply, n, cap);
	if (fuzz_verbose())
		note(req, len, reply, n);
	ASAN_UNPOISON_MEMORY_REGION(reply_area, P9_MAX_MSIZE - cap);
	free(req);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in;
	u8 flags;
	u32 room;

	if (inotify_fd < 0)
		setup_once();
	base_fds = fuzz_count_fds();
	fuzz_in_init(&in, data, size);
	flags = fuzz_u8(&in);
	room = fuzz_u32(&in);
	fs.readonly = flags & 1;
	fs.use_openat2 = !(flags & 2) && p9_openat2_works(fs.root_fd);

	for (unsigned int i = 0; i < MAX_MSGS && fuzz_left(&in); i++) {
		const u8 *msg = fuzz_rest(&in);
		u32 left = (u32)MIN(fuzz_left(&in), (size_t)P9_MAX_MSIZE);
		u32 len;

		memcpy(&len, msg, MIN(left, 4u));
		len = le32toh(len);
		if (left < 4 || len == 0 || len > left)
			len = left;
		serve(msg, len, room);
		fuzz_skip(&in, len);
	}

	p9_fs_reset(&fs);
	check_outside();
	FUZZ_ASSERT(fuzz_count_fds() == base_fds, "%d descriptors open after the session, %d before",
		    fuzz_count_fds(), base_fds);
	FUZZ_ASSERT(fd_budget_used(&fs.fd_budget) == 0, "%u descriptors still charged after the session",
		    fd_budget_used(&fs.fd_budget));
	empty_export();
	populate_export();
	return 0;
}
