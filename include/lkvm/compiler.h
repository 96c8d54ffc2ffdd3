#ifndef LKVM_COMPILER_H
#define LKVM_COMPILER_H

#include <stdint.h>
#include <stddef.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define UNUSED __attribute__((unused))
#define PACKED __attribute__((packed))
#define NORETURN __attribute__((noreturn))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define KiB(x) ((u64)(x) << 10)
#define MiB(x) ((u64)(x) << 20)
#define GiB(x) ((u64)(x) << 30)

/*
 * Memory barriers for memory shared with the guest or with other host
 * threads.  x86 only reorders a store with a later load (store buffer), so
 * rmb/wmb are compiler barriers there but mb() must be a real fence.
 */
#define barrier() __asm__ __volatile__("" ::: "memory")
#if defined(__x86_64__) || defined(__i386__)
#define mb() __asm__ __volatile__("mfence" ::: "memory")
#define rmb() barrier()
#define wmb() barrier()
#elif defined(__aarch64__)
#define mb() __asm__ __volatile__("dmb ish" ::: "memory")
#define rmb() __asm__ __volatile__("dmb ishld" ::: "memory")
#define wmb() __asm__ __volatile__("dmb ishst" ::: "memory")
#else
#define mb() __sync_synchronize()
#define rmb() __sync_synchronize()
#define wmb() __sync_synchronize()
#endif

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

#endif
