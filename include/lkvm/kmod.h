#ifndef LKVM_KMOD_H
#define LKVM_KMOD_H
/*
 * Which kernel modules a boot needs, in load order: the wanted modules and
 * everything they depend on, from a modules directory (/lib/modules/REL or
 * a `make modules_install INSTALL_MOD_PATH=` tree).  Dependencies come
 * from modules.dep; a tree without one (never passed through depmod) is
 * indexed by walking it and reading each module's "depends=" modinfo.
 * Modules listed in modules.builtin are in the kernel: nothing to load.
 */
#include <stdbool.h>
#include <stddef.h>

#define KMOD_MAX 64

struct kmod_index;

struct kmod_set {
	char *path[KMOD_MAX];	/* host paths, dependencies before dependants */
	unsigned int nr;
};

/* Index moddir; NULL with errno set (ENOENT: no such directory). */
struct kmod_index *kmod_index_open(const char *moddir);
void kmod_index_close(struct kmod_index *idx);
/* Module names compare with '-' and '_' alike, as the kernel does. */
bool kmod_builtin(const struct kmod_index *idx, const char *name);
/*
 * Add name and its dependencies to set (each once).  0; 1 when name is
 * built in (nothing added); -ENOENT when it is neither a module nor
 * built in; -E2BIG when set is full; -ELOOP on a dependency cycle.
 */
int kmod_resolve(const struct kmod_index *idx, const char *name, struct kmod_set *set);
void kmod_set_free(struct kmod_set *set);

#endif
