/*
 * Module dependency resolution from a fake modules directory: modules.dep
 * (+ modules.builtin), and a tree without modules.dep where each module's
 * own depends= string is read.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "lkvm/kmod.h"
#include "unit.h"

static char dir[64];

static void put(const char *rel, const void *data, size_t len)
{
	char path[256], cmd[300];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname %s/%s)\"", dir, rel);
	CHECK_EQ(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

#define PUTS(rel, s) put(rel, s, sizeof(s) - 1)

/* Index of the module whose path ends in suffix, or -1. */
static int pos(const struct kmod_set *set, const char *suffix)
{
	for (unsigned int i = 0; i < set->nr; i++) {
		size_t n = strlen(set->path[i]), m = strlen(suffix);

		if (n >= m && !strcmp(set->path[i] + n - m, suffix))
			return (int)i;
	}
	return -1;
}

static void test_modules_dep(void)
{
	struct kmod_set set = { .nr = 0 };
	struct kmod_index *idx;

	PUTS("modules.dep",
	     "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko\n"
	     "kernel/net/9p/9pnet.ko:\n"
	     "kernel/net/9p/9pnet_virtio.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko kernel/net/9p/9pnet.ko\n"
	     "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko\n"
	     "kernel/fs/netfs/netfs.ko:\n"
	     "kernel/drivers/virtio/virtio.ko:\n"
	     "kernel/drivers/virtio/virtio_ring.ko:\n"
	     "kernel/drivers/misc/pvpanic/pvpanic-mmio.ko.xz: kernel/drivers/misc/pvpanic/pvpanic.ko.xz\n"
	     "kernel/drivers/misc/pvpanic/pvpanic.ko.xz:\n"
	     "kernel/x/loop_a.ko: kernel/x/loop_b.ko\n"
	     "kernel/x/loop_b.ko: kernel/x/loop_a.ko\n");
	PUTS("modules.builtin", "kernel/fs/overlayfs/overlay.ko\nkernel/drivers/virtio/virtio_pci.ko\n");

	idx = kmod_index_open(dir);
	CHECK(idx != NULL);
	if (!idx)
		return;
	CHECK_EQ(kmod_resolve(idx, "9pnet_virtio", &set), 0);
	CHECK_EQ(kmod_resolve(idx, "9p", &set), 0);
	CHECK_EQ(set.nr, 7);	/* each module once */
	CHECK(pos(&set, "/9pnet.ko") >= 0 && pos(&set, "/9pnet.ko") < pos(&set, "/9pnet_virtio.ko"));
	CHECK(pos(&set, "/virtio.ko") < pos(&set, "/9pnet_virtio.ko"));
	CHECK(pos(&set, "/virtio_ring.ko") < pos(&set, "/9pnet_virtio.ko"));
	CHECK(pos(&set, "/netfs.ko") < pos(&set, "/fscache.ko"));
	CHECK(pos(&set, "/fscache.ko") < pos(&set, "/9p.ko"));
	CHECK_EQ(pos(&set, "/9p.ko"), 6);
	CHECK(!strncmp(set.path[0], dir, strlen(dir)));	/* host paths */

	/* Built in: nothing to load, and '-' matches '_'. */
	CHECK_EQ(kmod_resolve(idx, "overlay", &set), 1);
	CHECK_EQ(kmod_resolve(idx, "virtio-pci", &set), 1);
	CHECK(kmod_builtin(idx, "virtio_pci"));
	CHECK(!kmod_builtin(idx, "9p"));
	CHECK_EQ(set.nr, 7);
	CHECK_EQ(kmod_resolve(idx, "pvpanic_mmio", &set), 0);
	CHECK(pos(&set, "/pvpanic.ko.xz") == 7 && pos(&set, "/pvpanic-mmio.ko.xz") == 8);
	CHECK_EQ(kmod_resolve(idx, "no_such_module", &set), -ENOENT);
	CHECK_EQ(kmod_resolve(idx, "loop_a", &set), -ELOOP);
	kmod_set_free(&set);
	kmod_index_close(idx);
}

/* What a .ko's .modinfo section holds: NUL-separated key=value strings. */
#define MODINFO(deps) "\177ELF junk\0license=GPL\0depends=" deps "\0name=x\0vermagic=6.1\0"

static void test_depends_from_modinfo(void)
{
	struct kmod_set set = { .nr = 0 };
	struct kmod_index *idx;
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/tree", dir);
	CHECK_EQ(mkdir(sub, 0755), 0);
	strcat(dir, "/tree");
	PUTS("kernel/drivers/virtio/virtio_pci.ko",
	     MODINFO("virtio_ring,virtio_pci_modern_dev,virtio_pci_legacy_dev,virtio"));
	PUTS("kernel/drivers/virtio/virtio_pci_modern_dev.ko", MODINFO(""));
	PUTS("kernel/drivers/virtio/virtio_pci_legacy_dev.ko", MODINFO(""));
	PUTS("kernel/drivers/virtio/virtio.ko", MODINFO(""));
	PUTS("kernel/drivers/virtio/virtio_ring.ko", MODINFO(""));
	/* "xdepends=" inside another string must not count. */
	PUTS("kernel/drivers/block/virtio_blk.ko",
	     "\0desc=has xdepends=bogus in it\0depends=virtio,virtio_ring\0");
	PUTS("modules.builtin", "kernel/fs/9p/9p.ko\n");

	idx = kmod_index_open(dir);
	CHECK(idx != NULL);
	if (idx) {
		CHECK_EQ(kmod_resolve(idx, "virtio_pci", &set), 0);
		CHECK_EQ(set.nr, 5);
		CHECK_EQ(pos(&set, "/virtio_pci.ko"), 4);
		CHECK_EQ(kmod_resolve(idx, "virtio_blk", &set), 0);
		CHECK_EQ(set.nr, 6);
		CHECK_EQ(kmod_resolve(idx, "9p", &set), 1);
		CHECK_EQ(kmod_resolve(idx, "bogus", &set), -ENOENT);
		kmod_set_free(&set);
		kmod_index_close(idx);
	}
	dir[strlen(dir) - 5] = '\0';
}

static void test_missing_dir(void)
{
	errno = 0;
	CHECK(kmod_index_open("/no/such/modules/dir") == NULL);
	CHECK_EQ(errno, ENOENT);
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/lkvm-test-kmod.XXXXXX");
	if (!mkdtemp(dir)) {
		printf("FAIL: test-kmod (no temp dir)\n");
		return 1;
	}
	RUN(test_modules_dep);
	RUN(test_depends_from_modinfo);
	RUN(test_missing_dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	system(cmd);
	return unit_summary();
}
