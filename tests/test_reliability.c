/* Reliability (issue 16, docs/reliability.md): memory bounded before allocation, non-finite
 * parameters and inputs refused, exports replaced as a set under injected write failures,
 * stale temporaries cleaned, outputs checked up front, and the sanitizer build catching
 * float-to-int overflow. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "testlib.h"
#include "lib/crc32.h"
#include "lib/fileio.h"
#include "qreg/data.h"
#include "qreg/export.h"
#include "qreg/model.h"
#include "qreg/train.h"

/* ---- finding 8: the sanitizer build checks float-to-int conversions ------------------- */

START_TEST(test_sanitizer_float_cast_overflow)
{
#if defined(__SANITIZE_ADDRESS__)
    /* an ASan build is the sanitizer build (configure --enable-sanitizers): UBSan must stop
     * a float-to-int conversion out of range, which -fsanitize=undefined alone does not */
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        volatile float f = 3e38f;
        volatile int i = (int)f;
        _exit(i == 12345 ? 3 : 0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 0),
                  "a float-to-int overflow went unnoticed: the sanitizer flags lack "
                  "-fsanitize=float-cast-overflow");
#endif
}
END_TEST

Suite *qr_suite_reliability(void)
{
    Suite *s = suite_create("reliability");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sanitizer_float_cast_overflow);
    suite_add_tcase(s, tc);
    return s;
}
