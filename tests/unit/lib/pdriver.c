/* The tests' packed-ring driver (see pdriver.h), written from virtio 1.2 section 2.8. */
#include <endian.h>
#include <string.h>
#include "pdriver.h"

#define F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VRING_PACKED_DESC_F_USED)
#define WRAP_BIT (1u << VRING_PACKED_EVENT_F_WRAP_CTR)

void pdrv_init(struct pdrv *p, void *ring, void *driver, void *device, u16 size)
{
	memset(p, 0, sizeof(*p));
	p->ring = ring;
	p->driver = driver;
	p->device = device;
	p->size = size;
	p->avail_wrap = p->used_wrap = true;
}

u16 pdrv_avail_bits(bool wrap)
{
	return wrap ? F_AVAIL : F_USED;
}

void pdrv_put(struct pdrv *p, u16 slot, u64 addr, u32 len, u16 id, u16 flags)
{
	struct vring_packed_desc *d = &p->ring[slot];

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->id = htole16(id);
	__atomic_store_n(&d->flags, htole16(flags), __ATOMIC_RELEASE);
}

static void step(struct pdrv *p)
{
	if (++p->next_avail == p->size) {
		p->next_avail = 0;
		p->avail_wrap = !p->avail_wrap;
	}
}

u16 pdrv_add(struct pdrv *p, const struct pbuf *b, unsigned int n, u16 id)
{
	u16 head = p->next_avail, head_flags = 0;

	for (unsigned int i = 0; i < n; i++) {
		u16 f = pdrv_avail_bits(p->avail_wrap) | (b[i].writable ? VRING_DESC_F_WRITE : 0) |
			(i + 1 < n ? VRING_DESC_F_NEXT : 0);
		struct vring_packed_desc *d = &p->ring[p->next_avail];

		d->addr = htole64(b[i].gpa);
		d->len = htole32(b[i].len);
		d->id = htole16(id);
		if (i)
			d->flags = htole16(f);
		else
			head_flags = f;
		step(p);
	}
	if (id < PDRV_MAX_SIZE)
		p->slots[id] = n;
	__atomic_store_n(&p->ring[head].flags, htole16(head_flags), __ATOMIC_RELEASE);
	return head;
}

u16 pdrv_add_indirect(struct pdrv *p, void *table, u64 table_gpa, const struct pbuf *b,
		      unsigned int n, u16 id)
{
	struct vring_packed_desc *t = table;
	u16 head = p->next_avail;
	u16 f = pdrv_avail_bits(p->avail_wrap) | VRING_DESC_F_INDIRECT;

	for (unsigned int i = 0; i < n; i++)
		t[i] = (struct vring_packed_desc){
			.addr = htole64(b[i].gpa), .len = htole32(b[i].len),
			.flags = htole16(b[i].writable ? VRING_DESC_F_WRITE : 0),
		};
	p->ring[head].addr = htole64(table_gpa);
	p->ring[head].len = htole32(n * sizeof(*t));
	p->ring[head].id = htole16(id);
	if (id < PDRV_MAX_SIZE)
		p->slots[id] = 1;
	step(p);
	__atomic_store_n(&p->ring[head].flags, htole16(f), __ATOMIC_RELEASE);
	return head;
}

bool pdrv_get_used(struct pdrv *p, u16 *id, u32 *len)
{
	struct vring_packed_desc *d = &p->ring[p->next_used];
	u16 f = le16toh(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE));
	bool avail = f & F_AVAIL, used = f & F_USED;
	u32 next;

	if (avail != used || used != p->used_wrap)
		return false;
	*id = le16toh(d->id);
	*len = le32toh(d->len);
	next = p->next_used + (*id < PDRV_MAX_SIZE && p->slots[*id] ? p->slots[*id] : 1);
	if (*id < PDRV_MAX_SIZE)
		p->slots[*id] = 0;
	if (next >= p->size) {
		next -= p->size;
		p->used_wrap = !p->used_wrap;
	}
	p->next_used = next;
	return true;
}

void pdrv_set_event(struct pdrv *p, u16 flags, u16 off_wrap)
{
	u32 v = htole32((u32)flags << 16 | off_wrap);

	__atomic_store_n((u32 *)p->driver, v, __ATOMIC_RELEASE);
}

u16 pdrv_next_used_event(const struct pdrv *p)
{
	return p->next_used | (p->used_wrap ? WRAP_BIT : 0);
}

u16 pdrv_device_flags(const struct pdrv *p)
{
	return le16toh(__atomic_load_n(&p->device->flags, __ATOMIC_ACQUIRE));
}

u16 pdrv_device_off_wrap(const struct pdrv *p)
{
	return le16toh(__atomic_load_n(&p->device->off_wrap, __ATOMIC_ACQUIRE));
}

bool pdrv_needs_kick(const struct pdrv *p, u16 old_avail, bool old_wrap)
{
	u16 flags = pdrv_device_flags(p) & 3, ev = pdrv_device_off_wrap(p);
	int off = ev & ~WRAP_BIT, new_pos = p->next_avail, old = old_avail;
	bool wrap = ev & WRAP_BIT;

	if (flags != VRING_PACKED_EVENT_FLAG_DESC)
		return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	/* Positions as distances on a ring of two laps, counted from old. */
	if (new_pos < old || (new_pos == old && p->avail_wrap != old_wrap))
		new_pos += p->size;
	if (wrap != old_wrap)
		off += p->size;
	return off >= old && off < new_pos;
}
