/*
 * Kernel module dependency resolution (lkvm/kmod.h).  modules.dep lines
 * are "path: dep-path dep-path ..." with paths relative to the modules
 * directory; modules.builtin lines are the paths the built-in modules
 * would have had.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/file.h"
#include "lkvm/kmod.h"

struct kmod_entry {
	char name[64];		/* normalised */
	char *path;		/* relative to the directory */
	char *deps;		/* space-separated names or paths; NULL: read modinfo */
	int state;		/* resolution: 0 new, 1 in progress, 2 done */
};

struct kmod_index {
	char *dir;
	struct kmod_entry *mods;
	size_t nr, cap;
	char **builtin;		/* normalised names */
	size_t nr_builtin, cap_builtin;
};

/* "kernel/fs/9p/9p-x.ko.xz" -> "9p_x". */
static void normalise(const char *in, char out[64])
{
	const char *base = strrchr(in, '/');
	size_t n;

	base = base ? base + 1 : in;
	n = strcspn(base, ".");
	if (n > 63)
		n = 63;
	for (size_t i = 0; i < n; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[n] = '\0';
}

static int grow(void **arr, size_t *cap, size_t nr, size_t elem)
{
	void *p;

	if (nr < *cap)
		return 0;
	p = realloc(*arr, (*cap ? *cap * 2 : 64) * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = *cap ? *cap * 2 : 64;
	return 0;
}

static int add_module(struct kmod_index *idx, const char *path, const char *deps)
{
	struct kmod_entry *e;

	if (grow((void **)&idx->mods, &idx->cap, idx->nr, sizeof(*e)))
		return -ENOMEM;
	e = &idx->mods[idx->nr];
	normalise(path, e->name);
	e->path = strdup(path);
	e->deps = deps ? strdup(deps) : NULL;
	e->state = 0;
	if (!e->path || (deps && !e->deps))
		return -ENOMEM;
	idx->nr++;
	return 0;
}

static FILE *open_in(const struct kmod_index *idx, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", idx->dir, name);
	return fopen(path, "re");
}

static int read_dep_file(struct kmod_index *idx, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	while (!ret && getline(&line, &cap, f) > 0) {
		char *colon = strchr(line, ':');

		line[strcspn(line, "\n")] = '\0';
		if (!colon)
			continue;
		*colon = '\0';
		ret = add_module(idx, line, colon + 1);
	}
	free(line);
	return ret;
}

static int read_builtin(struct kmod_index *idx)
{
	FILE *f = open_in(idx, "modules.builtin");
	char *line = NULL, name[64];
	size_t cap = 0;
	int ret = 0;

	if (!f)
		return 0;
	while (!ret && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		normalise(line, name);
		ret = grow((void **)&idx->builtin, &idx->cap_builtin, idx->nr_builtin,
			   sizeof(char *));
		if (!ret && !(idx->builtin[idx->nr_builtin++] = strdup(name)))
			ret = -ENOMEM;
	}
	free(line);
	fclose(f);
	return ret;
}

/* The "depends=a,b" modinfo string of a module file, as "a b". */
static char *modinfo_depends(const char *path)
{
	static const char key[] = "depends=";
	FILE *f = fopen(path, "re");
	char *buf = NULL, *hit = NULL, *out;
	size_t len = 0;
	long size;

	if (!f)
		return strdup("");
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc(size + 1)) && fread(buf, 1, size, f) == (size_t)size) {
		buf[size] = '\0';
		/* modinfo strings are NUL-separated: the key starts after a NUL. */
		for (char *p = buf; (p = memmem(p, buf + size - p, key, sizeof(key) - 1)); p++)
			if (p > buf && p[-1] == '\0') {
				hit = p + sizeof(key) - 1;
				break;
			}
	}
	len = hit ? strnlen(hit, buf + size - hit) : 0;
	out = malloc(len + 1);
	if (out) {
		memcpy(out, hit ? hit : "", len);
		out[len] = '\0';
		for (char *p = out; *p; p++)
			if (*p == ',')
				*p = ' ';
	}
	free(buf);
	fclose(f);
	return out;
}

static struct kmod_index *walking;
static size_t walk_prefix;
static int walk_error;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type != FTW_F || !strstr(path + walk_prefix, ".ko"))
		return 0;
	walk_error = add_module(walking, path + walk_prefix, NULL);
	return walk_error;
}

/* No modules.dep: every *.ko* below the directory; modinfo read when needed. */
static int walk_tree(struct kmod_index *idx)
{
	walking = idx;
	walk_prefix = strlen(idx->dir) + 1;
	walk_error = 0;
	if (nftw(idx->dir, walk_one, 16, FTW_PHYS) < 0 && !walk_error)
		walk_error = -errno;
	walking = NULL;
	return walk_error;
}

struct kmod_index *kmod_index_open(const char *moddir)
{
	struct kmod_index *idx = calloc(1, sizeof(*idx));
	FILE *dep;
	int ret;

	if (!idx || !(idx->dir = strdup(moddir))) {
		free(idx);
		errno = ENOMEM;
		return NULL;
	}
	dep = open_in(idx, "modules.dep");
	if (dep) {
		ret = read_dep_file(idx, dep);
		fclose(dep);
	} else {
		ret = walk_tree(idx);
	}
	if (!ret)
		ret = read_builtin(idx);
	if (ret) {
		kmod_index_close(idx);
		errno = -ret;
		return NULL;
	}
	return idx;
}

void kmod_index_close(struct kmod_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->nr; i++) {
		free(idx->mods[i].path);
		free(idx->mods[i].deps);
	}
	for (size_t i = 0; i < idx->nr_builtin; i++)
		free(idx->builtin[i]);
	free(idx->mods);
	free(idx->builtin);
	free(idx->dir);
	free(idx);
}

bool kmod_builtin(const struct kmod_index *idx, const char *name)
{
	char want[64];

	normalise(name, want);
	for (size_t i = 0; i < idx->nr_builtin; i++)
		if (!strcmp(idx->builtin[i], want))
			return true;
	return false;
}

static struct kmod_entry *find(const struct kmod_index *idx, const char *name)
{
	char want[64];

	normalise(name, want);
	for (size_t i = 0; i < idx->nr; i++)
		if (!strcmp(idx->mods[i].name, want))
			return &idx->mods[i];
	return NULL;
}

static int resolve(const struct kmod_index *idx, const char *name, struct kmod_set *set)
{
	struct kmod_entry *e = find(idx, name);
	char *deps, *dep, *save;
	int ret = 0;

	if (!e)
		return kmod_builtin(idx, name) ? 1 : -ENOENT;
	if (e->state == 2)
		return 0;
	if (e->state == 1)
		return -ELOOP;
	e->state = 1;
	if (!e->deps) {
		char full[4096];

		snprintf(full, sizeof(full), "%s/%s", idx->dir, e->path);
		e->deps = modinfo_depends(full);
		if (!e->deps)
			return -ENOMEM;
	}
	deps = strdup(e->deps);
	if (!deps)
		return -ENOMEM;
	for (dep = strtok_r(deps, " \t", &save); dep && ret >= 0;
	     dep = strtok_r(NULL, " \t", &save))
		ret = resolve(idx, dep, set);
	free(deps);
	if (ret < 0)
		return ret;
	if (set->nr >= KMOD_MAX)
		return -E2BIG;
	if (asprintf(&set->path[set->nr], "%s/%s", idx->dir, e->path) < 0)
		return -ENOMEM;
	set->nr++;
	e->state = 2;
	return 0;
}

int kmod_resolve(const struct kmod_index *idx, const char *name, struct kmod_set *set)
{
	/* Marks persist across calls so that a shared dependency comes once. */
	return resolve(idx, name, set);
}

void kmod_set_free(struct kmod_set *set)
{
	for (unsigned int i = 0; i < set->nr; i++)
		free(set->path[i]);
	set->nr = 0;
}
