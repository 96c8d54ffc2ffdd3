#ifndef LKVM_TESTS_FENCED_RAM_H
#define LKVM_TESTS_FENCED_RAM_H
#include "lkvm/compiler.h"

/*
 * Fake guest RAM: size zeroed bytes between PROT_NONE pages, so that a
 * stray access crashes the test.  Exits on failure.  (tests/unit/lib)
 */
u8 *fenced_ram(u64 size);

#endif
