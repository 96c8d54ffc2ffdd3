/*
 * MSI-X: the capability, the vector table and pending-bit array that live
 * in one of the device's BARs, and delivery.  Each vector gets a KVM MSI
 * route and an irqfd the first time it fires, so signalling it afterwards
 * is one eventfd write; KVM_SIGNAL_MSI is the fallback.
 *
 * Bypass fds (lkvm/pci.h) are extra irqfds on a vector's route for
 * producers that never enter lkvm: bound exactly while the vector can
 * deliver, drained into the pending bit while it cannot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/pci.h"

#define MSIX_MAX_VECTORS 2048
#define NO_ROUTE -1		/* vector's gsi before its first delivery */
#define ROUTE_FAILED -2		/* KVM refused a route: use KVM_SIGNAL_MSI */
#define MASKED PCI_MSIX_ENTRY_CTRL_MASKBIT

u32 pci_msix_table_size(unsigned int nr)
{
	return nr * PCI_MSIX_ENTRY_SIZE;
}

u32 pci_msix_pba_size(unsigned int nr)
{
	return ALIGN_UP(nr, 64u) / 8;	/* whole qwords of pending bits */
}

int pci_msix_init(struct pci_device *dev, struct pci_msix *msix, unsigned int nr,
		  unsigned int bar, u32 table_off, u32 pba_off)
{
	int cap;

	if (!nr || nr > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS || table_off % 8 ||
	    pba_off % 8)
		return -EINVAL;
	memset(msix, 0, sizeof(*msix));
	msix->vec = calloc(nr, sizeof(*msix->vec));
	if (!msix->vec)
		return -ENOMEM;
	cap = pci_add_cap(dev, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
	if (cap < 0) {
		free(msix->vec);
		msix->vec = NULL;
		return cap;
	}
	for (unsigned int i = 0; i < nr; i++)
		msix->vec[i] = (struct pci_msix_vector){ .ctrl = MASKED, .gsi = NO_ROUTE, .fd = -1 };
	pthread_mutex_init(&msix->lock, NULL);
	msix->dev = dev;
	msix->nr = nr;
	msix->cap = (u8)cap;
	msix->bar = (u8)bar;
	msix->table_off = table_off;
	msix->pba_off = pba_off;
	pci_cfg_set16(dev, cap + PCI_MSIX_FLAGS, (u16)(nr - 1));
	pci_cfg_set32(dev, cap + PCI_MSIX_TABLE, table_off | bar);
	pci_cfg_set32(dev, cap + PCI_MSIX_PBA, pba_off | bar);
	/* Enable and Function Mask, the high bits of Message Control. */
	pci_cfg_set_wmask(dev, cap + PCI_MSIX_FLAGS + 1, 1,
			  (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8);
	dev->msix = msix;
	return 0;
}

static void bypass_unbind(struct pci_msix *msix, struct pci_msix_bypass *b);

void pci_msix_exit(struct pci_msix *msix)
{
	if (!msix->vec)
		return;
	for (struct pci_msix_bypass *b = msix->bypass; b; b = b->next) {
		bypass_unbind(msix, b);
		b->attached = false;
	}
	msix->bypass = NULL;
	for (unsigned int i = 0; i < msix->nr; i++) {
		struct pci_msix_vector *v = &msix->vec[i];

		if (v->fd >= 0) {
			kvm_irqfd(msix->dev->kvm, (u32)v->gsi, v->fd, false);
			close(v->fd);
		}
	}
	free(msix->vec);
	msix->vec = NULL;
	msix->dev->msix = NULL;
	pthread_mutex_destroy(&msix->lock);
}

bool pci_msix_enabled(const struct pci_msix *msix)
{
	return __atomic_load_n(&msix->enabled, __ATOMIC_ACQUIRE);
}

/* ---- delivery (msix->lock held) ---- */

static u64 vec_addr(const struct pci_msix_vector *v)
{
	return (u64)v->addr_hi << 32 | v->addr_lo;
}

static void drop_irqfd(struct pci_msix *msix, struct pci_msix_vector *v)
{
	if (v->fd >= 0) {
		kvm_irqfd(msix->dev->kvm, (u32)v->gsi, v->fd, false);
		close(v->fd);
		v->fd = -1;
	}
	v->gsi = ROUTE_FAILED;
}

/* Bus 0, function 0 of the device's slot. */
static u32 requester_id(const struct pci_msix *msix)
{
	return msix->dev->slot << 3;
}

static void route_create(struct pci_msix *msix, struct pci_msix_vector *v)
{
	struct kvm *kvm = msix->dev->kvm;
	int gsi = kvm_msi_route_add(kvm, vec_addr(v), v->data, requester_id(msix));

	if (gsi < 0) {
		pr_warn_ratelimited("pci %s: no MSI route (error %d); using KVM_SIGNAL_MSI",
			msix->dev->name, gsi);
		v->gsi = ROUTE_FAILED;
		return;
	}
	v->gsi = gsi;
	v->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->fd >= 0 && kvm_irqfd(kvm, (u32)gsi, v->fd, true)) {
		close(v->fd);
		v->fd = -1;
	}
}

static void route_refresh(struct pci_msix *msix, struct pci_msix_vector *v)
{
	if (v->gsi == NO_ROUTE)
		route_create(msix, v);
	else if (v->stale && v->gsi >= 0 &&
		 kvm_msi_route_update(msix->dev->kvm, (u32)v->gsi, vec_addr(v), v->data,
				  requester_id(msix)))
		drop_irqfd(msix, v);	/* the route now points at the old target */
	v->stale = false;
}

static void deliver(struct pci_msix *msix, struct pci_msix_vector *v)
{
	u64 one = 1;

	if (!msix->dev->kvm)
		return;
	route_refresh(msix, v);
	if (v->fd >= 0 && write(v->fd, &one, sizeof(one)) == sizeof(one))
		return;
	kvm_signal_msi(msix->dev->kvm, vec_addr(v), v->data, requester_id(msix));
}

static bool can_deliver(const struct pci_msix *msix, const struct pci_msix_vector *v)
{
	return msix->enabled && !msix->func_masked && !(v->ctrl & MASKED);
}

static void deliver_pending(struct pci_msix *msix, struct pci_msix_vector *v)
{
	if (v->pending && can_deliver(msix, v)) {
		v->pending = false;
		deliver(msix, v);
	}
}

/* ---- bypass fds (msix->lock held) ---- */

static struct pci_msix_vector *bypass_vec(struct pci_msix *msix, struct pci_msix_bypass *b)
{
	return b->vector < msix->nr ? &msix->vec[b->vector] : NULL;
}

static void bypass_unbind(struct pci_msix *msix, struct pci_msix_bypass *b)
{
	if (b->bound_gsi >= 0 && msix->dev->kvm)
		kvm_irqfd(msix->dev->kvm, (u32)b->bound_gsi, b->fd, false);
	b->bound_gsi = -1;
}

/* What an unbound fd collected is the vector's pending message. */
static void bypass_drain(struct pci_msix *msix, struct pci_msix_bypass *b)
{
	struct pci_msix_vector *v = bypass_vec(msix, b);
	u64 n = 0;

	if (b->bound_gsi >= 0 || b->fd < 0)
		return;
	if (read(b->fd, &n, sizeof(n)) == sizeof(n) && n && v)
		v->pending = true;
}

/*
 * Bind b iff its vector can deliver; KVM injects at bind time what the fd
 * collected since the last drain, so nothing falls between the two.
 */
static void bypass_sync(struct pci_msix *msix, struct pci_msix_bypass *b)
{
	struct pci_msix_vector *v = bypass_vec(msix, b);
	bool want = v && msix->dev->kvm && can_deliver(msix, v);

	if (want) {
		route_refresh(msix, v);
		want = v->gsi >= 0;
	}
	if (b->bound_gsi >= 0 && (!want || b->bound_gsi != v->gsi))
		bypass_unbind(msix, b);
	if (!want || b->bound_gsi >= 0)
		return;
	if (kvm_irqfd(msix->dev->kvm, (u32)v->gsi, b->fd, true))
		pr_warn_ratelimited("pci %s: cannot bind an irqfd to vector %u",
				    msix->dev->name, b->vector);
	else
		b->bound_gsi = v->gsi;
}

static void bypass_drain_all(struct pci_msix *msix)
{
	for (struct pci_msix_bypass *b = msix->bypass; b; b = b->next)
		bypass_drain(msix, b);
}

static void bypass_sync_all(struct pci_msix *msix)
{
	for (struct pci_msix_bypass *b = msix->bypass; b; b = b->next)
		bypass_sync(msix, b);
}

/* Entry e's mask, address or data changed: deliver what waited, rebind. */
static void entry_changed(struct pci_msix *msix, unsigned int e)
{
	for (struct pci_msix_bypass *b = msix->bypass; b; b = b->next)
		if (b->vector == e)
			bypass_drain(msix, b);
	deliver_pending(msix, &msix->vec[e]);
	for (struct pci_msix_bypass *b = msix->bypass; b; b = b->next)
		if (b->vector == e)
			bypass_sync(msix, b);
}

bool pci_msix_bypass_attach(struct pci_msix *msix, struct pci_msix_bypass *b,
			    unsigned int vector)
{
	bool bound;

	pthread_mutex_lock(&msix->lock);
	b->vector = vector;
	b->bound_gsi = -1;
	bypass_sync(msix, b);
	bound = b->bound_gsi >= 0;
	if (bound) {
		b->attached = true;
		b->next = msix->bypass;
		msix->bypass = b;
	}
	pthread_mutex_unlock(&msix->lock);
	return bound;
}

void pci_msix_bypass_move(struct pci_msix *msix, struct pci_msix_bypass *b,
			  unsigned int vector)
{
	pthread_mutex_lock(&msix->lock);
	if (b->attached && b->vector != vector) {
		bypass_drain(msix, b);
		bypass_unbind(msix, b);
		b->vector = vector;
		bypass_sync(msix, b);
	}
	pthread_mutex_unlock(&msix->lock);
}

void pci_msix_bypass_detach(struct pci_msix *msix, struct pci_msix_bypass *b)
{
	pthread_mutex_lock(&msix->lock);
	if (b->attached) {
		bypass_unbind(msix, b);
		for (struct pci_msix_bypass **p = &msix->bypass; *p; p = &(*p)->next)
			if (*p == b) {
				*p = b->next;
				break;
			}
		b->attached = false;
	}
	pthread_mutex_unlock(&msix->lock);
}

bool pci_msix_bypass_attached(const struct pci_msix_bypass *b)
{
	return b->attached;
}

bool pci_msix_signal(struct pci_msix *msix, unsigned int vector)
{
	bool enabled;

	pthread_mutex_lock(&msix->lock);
	enabled = msix->enabled;
	if (enabled && vector < msix->nr) {
		struct pci_msix_vector *v = &msix->vec[vector];

		if (can_deliver(msix, v))
			deliver(msix, v);
		else
			v->pending = true;
	}
	pthread_mutex_unlock(&msix->lock);
	return enabled;
}

void pci_msix_control_written(struct pci_msix *msix, u16 control)
{
	pthread_mutex_lock(&msix->lock);
	__atomic_store_n(&msix->enabled, !!(control & PCI_MSIX_FLAGS_ENABLE), __ATOMIC_RELEASE);
	msix->func_masked = control & PCI_MSIX_FLAGS_MASKALL;
	bypass_drain_all(msix);
	for (unsigned int i = 0; i < msix->nr; i++)
		deliver_pending(msix, &msix->vec[i]);
	bypass_sync_all(msix);
	pthread_mutex_unlock(&msix->lock);
}

/* ---- table and PBA ---- */

static u32 *entry_word(struct pci_msix_vector *v, u32 word)
{
	switch (word) {
	case 0:
		return &v->addr_lo;
	case 1:
		return &v->addr_hi;
	case 2:
		return &v->data;
	default:
		return &v->ctrl;
	}
}

static void table_byte(struct pci_msix *msix, u32 off, u8 *byte, bool is_write)
{
	struct pci_msix_vector *v = &msix->vec[off / PCI_MSIX_ENTRY_SIZE];
	u32 word = off % PCI_MSIX_ENTRY_SIZE / 4, shift = 8 * (off % 4);
	u32 *p = entry_word(v, word);

	if (!is_write) {
		*byte = (u8)(*p >> shift);
		return;
	}
	*p = (*p & ~(0xffu << shift)) | (u32)*byte << shift;
	if (word == 3)
		*p &= MASKED;	/* the other control bits are reserved */
	else
		v->stale = true;
}

static void table_access(struct pci_msix *msix, u32 off, u8 *data, u32 len, bool is_write)
{
	u32 size = pci_msix_table_size(msix->nr);

	pthread_mutex_lock(&msix->lock);
	for (u32 i = 0; i < len; i++) {
		if (off + i < size)
			table_byte(msix, off + i, &data[i], is_write);
		else if (!is_write)
			data[i] = 0;
	}
	/* An entry the write unmasked may have a message waiting. */
	if (is_write)
		for (u32 e = off / PCI_MSIX_ENTRY_SIZE;
		     e <= (off + len - 1) / PCI_MSIX_ENTRY_SIZE && e < msix->nr; e++)
			entry_changed(msix, e);
	pthread_mutex_unlock(&msix->lock);
}

static void pba_access(struct pci_msix *msix, u32 off, u8 *data, u32 len, bool is_write)
{
	if (is_write)
		return;		/* read-only */
	pthread_mutex_lock(&msix->lock);
	bypass_drain_all(msix);
	for (u32 i = 0; i < len; i++) {
		data[i] = 0;
		for (u32 bit = 0; bit < 8; bit++) {
			u32 n = 8 * (off + i) + bit;

			if (n < msix->nr && msix->vec[n].pending)
				data[i] |= 1u << bit;
		}
	}
	pthread_mutex_unlock(&msix->lock);
}

static bool inside(u64 off, u32 len, u32 base, u32 size)
{
	return off >= base && off - base < size && len <= size - (off - base);
}

bool pci_msix_bar_access(struct pci_msix *msix, u64 off, u8 *data, u32 len, bool is_write)
{
	if (!len || len > 8)
		return false;
	if (inside(off, len, msix->table_off, pci_msix_table_size(msix->nr))) {
		table_access(msix, (u32)(off - msix->table_off), data, len, is_write);
		return true;
	}
	if (inside(off, len, msix->pba_off, pci_msix_pba_size(msix->nr))) {
		pba_access(msix, (u32)(off - msix->pba_off), data, len, is_write);
		return true;
	}
	return false;
}
