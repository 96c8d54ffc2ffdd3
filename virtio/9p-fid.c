/*
 * The session's fids: the guest's numbers for the objects it has walked
 * to.  Each is refcounted, so a worker thread using a fid keeps its
 * descriptors open even while another worker clunks it; nothing ever uses
 * a descriptor number that may have been closed and reused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "lkvm/virtio-9p.h"

static unsigned int bucket_of(u32 id)
{
	return (id * 2654435761u) >> 24;	/* 256 buckets */
}

void p9_fid_table_init(struct p9_fid_table *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

void p9_fid_table_destroy(struct p9_fid_table *t)
{
	p9_fid_remove_all(t);
	pthread_mutex_destroy(&t->lock);
}

struct p9_fid *p9_fid_new(int fd, mode_t type, struct fd_budget *budget)
{
	struct p9_fid *fid = calloc(1, sizeof(*fid));

	if (!fid)
		return NULL;
	fid->refs = 1;
	fid->fd = fd;
	fid->open_fd = -1;
	fid->type = type & S_IFMT;
	fid->budget = budget;
	pthread_mutex_init(&fid->lock, NULL);
	return fid;
}

void p9_fid_put(struct p9_fid *fid)
{
	if (!fid || __atomic_sub_fetch(&fid->refs, 1, __ATOMIC_ACQ_REL))
		return;
	close(fid->fd);
	fd_budget_give(fid->budget, 1);
	if (fid->open_fd >= 0) {
		close(fid->open_fd);
		fd_budget_give(fid->budget, 1);
	}
	pthread_mutex_destroy(&fid->lock);
	free(fid);
}

/* With t->lock held: the link pointing at id's entry (maybe at NULL). */
static struct p9_fid **find_locked(struct p9_fid_table *t, u32 id)
{
	struct p9_fid **p = &t->bucket[bucket_of(id)];

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

struct p9_fid *p9_fid_get(struct p9_fid_table *t, u32 id)
{
	struct p9_fid *fid;

	pthread_mutex_lock(&t->lock);
	fid = *find_locked(t, id);
	if (fid)
		__atomic_add_fetch(&fid->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&t->lock);
	return fid;
}

int p9_fid_install(struct p9_fid_table *t, u32 id, struct p9_fid *fid,
		   struct p9_fid *replacing)
{
	struct p9_fid **p, *old = NULL;
	int ret = 0;

	if (id == P9_NOFID)
		return -EBADF;
	pthread_mutex_lock(&t->lock);
	p = find_locked(t, id);
	if (*p && *p != replacing) {
		ret = -EEXIST;
	} else if (*p) {
		old = *p;
		*p = old->next;
		t->count--;
	}
	if (!ret && t->count >= P9_MAX_FIDS)
		ret = -EMFILE;
	if (!ret) {
		fid->id = id;
		fid->next = t->bucket[bucket_of(id)];
		t->bucket[bucket_of(id)] = fid;
		t->count++;
		__atomic_add_fetch(&fid->refs, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&t->lock);
	p9_fid_put(old);
	return ret;
}

int p9_fid_remove(struct p9_fid_table *t, u32 id)
{
	struct p9_fid **p, *fid;

	pthread_mutex_lock(&t->lock);
	p = find_locked(t, id);
	fid = *p;
	if (fid) {
		*p = fid->next;
		t->count--;
	}
	pthread_mutex_unlock(&t->lock);
	if (!fid)
		return -EBADF;
	p9_fid_put(fid);
	return 0;
}

void p9_fid_remove_all(struct p9_fid_table *t)
{
	struct p9_fid *list = NULL, *fid;

	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < P9_FID_BUCKETS; i++) {
		while ((fid = t->bucket[i])) {
			t->bucket[i] = fid->next;
			fid->next = list;
			list = fid;
		}
	}
	t->count = 0;
	pthread_mutex_unlock(&t->lock);
	while ((fid = list)) {
		list = fid->next;
		p9_fid_put(fid);
	}
}

unsigned int p9_fid_count(struct p9_fid_table *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
