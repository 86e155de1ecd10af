/* check.h - a minimal assertion kit of the test firmware. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>

#include "mm2_api.h"

static int checks, failures;

/* EXPECT checks a condition. */
#define EXPECT(cond)                                                             \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                        \
    } while (0)

/* RC checks the result of a call against a firmware enumerator. */
#define RC(call, want)                                                           \
    do {                                                                         \
        imx_result_t rc_ = (call);                                               \
        checks++;                                                                \
        if (rc_ != (want)) {                                                     \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: FAIL: %s = %d, want %s (%d)\n", __FILE__,    \
                    __LINE__, #call, (int)rc_, #want, (int)(want));              \
        }                                                                        \
    } while (0)

/* finish prints the summary line the Go test parses and returns the exit status. */
static int finish(const char *name) {
    printf("%s: %d checks, %d failures\n", name, checks, failures);
    return failures == 0 ? 0 : 1;
}

#endif
