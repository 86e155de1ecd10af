/*
 * mm2_musl_start.c - starts the Go runtime of libmm2.a in a musl program.
 * Compile it into the firmware (musl builds only) together with an archive
 * prepared by prepare-archive.sh.
 *
 * musl calls the constructors of .init_array without the (argc, argv, envp)
 * that glibc passes, and the Go runtime's library entry point reads them
 * (golang/go#13492: the program crashes at start). prepare-archive.sh takes
 * that entry point out of the archive's .init_array and makes it global;
 * this constructor calls it with an empty argument list, the environment
 * and an empty auxiliary vector (the Go runtime then reads
 * /proc/self/auxv). The block is never freed: the runtime starts on its own
 * thread and reads it after this returns.
 */
#include <stddef.h>
#include <stdlib.h>

#if defined(__x86_64__)
#define MM2_RT0 _rt0_amd64_linux_lib
#elif defined(__aarch64__)
#define MM2_RT0 _rt0_arm64_linux_lib
#elif defined(__arm__)
#define MM2_RT0 _rt0_arm_linux_lib
#else
#error "mm2_musl_start.c: unknown architecture"
#endif

extern char **environ;
void MM2_RT0(int argc, char **argv, char **envp);

static void mm2_start_go(void) __attribute__((constructor));
static void mm2_start_go(void) {
    size_t n = 0, i;
    char **v;
    while (environ != NULL && environ[n] != NULL) {
        n++;
    }
    /* argv[0] = NULL (argc 0), the environment, NULL, then AT_NULL. */
    v = calloc(n + 4, sizeof *v);
    if (v == NULL) {
        abort();
    }
    for (i = 0; i < n; i++) {
        v[1 + i] = environ[i];
    }
    MM2_RT0(0, v, v + 1);
}
