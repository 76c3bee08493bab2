/* The audio loader's feature cache: hits, misses and invalidation, corrupt cache files,
 * the fallback directory, and the FNV-1a hash its keys use. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>
#include <sndfile.h>

#include "datasets/audio_impl.h"
#include "lib/crc32.h"
#include "qreg/audio.h"
#include "qreg/rng.h"
#include "qreg/train.h"
#include "testlib.h"
#include "testlib_audio.h"

/* ---- the feature cache ------------------------------------------------------------------ */

static char *only_cache_file(const char *cache_dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '\\.qfc$'", cache_dir);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    ck_assert_int_eq(fscanf(f, "%d", &n), 1);
    pclose(f);
    ck_assert_int_eq(n, 1);
    snprintf(cmd, sizeof cmd, "ls '%s'/*.qfc", cache_dir);
    f = popen(cmd, "r");
    char line[1024] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    pclose(f);
    line[strcspn(line, "\n")] = '\0';
    return strdup(line);
}

START_TEST(test_cache_hit_miss_invalidation)
{
    char *dir = ta_make_tree(3);
    ta_warns w;
    qr_audio_options o = ta_base_options(dir, &w);
    o.cache = 1;
    o.val_split = o.test_split = 0;
    ta_splits a = ta_load_ok(&o);
    ck_assert_int_eq(a.st.cache_features, QR_AUDIO_CACHE_MISS);
    char *cdir = ta_join(dir, ".qreg-cache");
    ck_assert_ptr_nonnull(strstr(a.st.cache_path, cdir));
    char *cfile = only_cache_file(cdir);
    ck_assert_str_eq(cfile, a.st.cache_path);
    /* the second load reads the cache and gives the same bits */
    ta_splits b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_HIT);
    ck_assert_uint_eq(b.train.n, a.train.n);
    ck_assert(memcmp(a.train.x, b.train.x, a.train.n * 94 * 13 * sizeof(float)) == 0);
    ck_assert(memcmp(a.train.y, b.train.y, a.train.n * sizeof(int32_t)) == 0);
    ta_splits_free(&b);
    ck_assert_int_eq(w.n, 0);

    /* a changed file with the same size and the same mtime: content hashing sees it */
    char *p = ta_join(dir, "yes/y01.wav");
    struct stat st0;
    ck_assert_int_eq(stat(p, &st0), 0);
    size_t len = 0;
    unsigned char *bytes = ta_read_bytes(p, &len);
    bytes[len / 2] ^= 0x40;
    ta_write_bytes(p, bytes, len);
    struct timespec times[2] = {st0.st_atim, st0.st_mtim};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, times, 0), 0);
    struct stat st1;
    ck_assert_int_eq(stat(p, &st1), 0);
    ck_assert(st1.st_size == st0.st_size && st1.st_mtim.tv_sec == st0.st_mtim.tv_sec &&
              st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec);
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_MISS);
    ck_assert_str_ne(b.st.cache_path, a.st.cache_path);
    /* row 4 = yes/y01 changed, the others did not */
    ck_assert(memcmp(a.train.x + 4 * 94 * 13, b.train.x + 4 * 94 * 13, 94 * 13 * 4) != 0);
    ck_assert(memcmp(a.train.x, b.train.x, 4 * 94 * 13 * 4) == 0);
    ta_splits_free(&b);
    free(bytes);
    free(p);

    /* a file added, then removed again: miss, then a hit on the earlier cache */
    ta_write_clip(dir, "no/new.wav", 0, 99);
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_MISS);
    ck_assert_uint_eq(b.train.n, 7);
    ta_splits_free(&b);
    p = ta_join(dir, "no/new.wav");
    ck_assert_int_eq(unlink(p), 0);
    free(p);
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_HIT);
    ck_assert_uint_eq(b.train.n, 6);
    ta_splits_free(&b);
    /* a file removed: miss */
    p = ta_join(dir, "no/n00.wav");
    ck_assert_int_eq(unlink(p), 0);
    free(p);
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_MISS);
    ck_assert_uint_eq(b.train.n, 5);
    ta_splits_free(&b);
    /* any parameter: MFCC, audio */
    o.mfcc.n_mels = 39;
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_MISS);
    ta_splits_free(&b);
    o.mfcc.n_mels = 40;
    o.crop = QR_AUDIO_CROP_START;
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_MISS);
    ta_splits_free(&b);
    o.crop = QR_AUDIO_CROP_CENTRE;
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_HIT);
    ta_splits_free(&b);
    /* the split does not change the features: still a hit */
    o.val_split = 0.5;
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_HIT);
    ta_splits_free(&b);
    ck_assert_int_eq(w.n, 0);
    /* cache off: nothing read or written */
    o.cache = 0;
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_OFF);
    ck_assert_str_eq(b.st.cache_path, "");
    ta_splits_free(&b);
    ta_splits_free(&a);
    free(cfile);
    free(cdir);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cache_corrupt)
{
    char *dir = ta_make_tree(2);
    ta_warns w;
    qr_audio_options o = ta_base_options(dir, &w);
    o.cache = 1;
    o.val_split = o.test_split = 0;
    ta_splits a = ta_load_ok(&o);
    ck_assert_int_eq(a.st.cache_features, QR_AUDIO_CACHE_MISS);
    char path[1024];
    snprintf(path, sizeof path, "%s", a.st.cache_path);
    size_t len = 0;
    unsigned char *good = ta_read_bytes(path, &len);
    ck_assert_mem_eq(good, "QRFC", 4);
    static const struct {
        size_t at;      /* byte to change (SIZE_MAX: truncate) */
        const char *why;
    } cases[] = {{SIZE_MAX, "checksum"}, {0, "bad magic"}, {100, "checksum"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *bad = malloc(len);
        memcpy(bad, good, len);
        size_t n = len;
        if (cases[c].at == SIZE_MAX)
            n = len - 1000;
        else if (cases[c].at == 100)
            bad[len - 500] ^= 1; /* inside the features */
        else
            bad[0] = 'X';
        ta_write_bytes(path, bad, n);
        free(bad);
        w.n = 0;
        w.text[0] = '\0';
        ta_splits b = ta_load_ok(&o);
        ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_CORRUPT);
        ck_assert_int_eq(w.n, 1);
        ck_assert_msg(strstr(w.text, path) && strstr(w.text, cases[c].why) &&
                      strstr(w.text, "recomputing"), "warning: %s", w.text);
        /* never trusted: the features are the recomputed ones */
        ck_assert(memcmp(a.train.x, b.train.x, a.train.n * 94 * 13 * sizeof(float)) == 0);
        ta_splits_free(&b);
        /* and the cache was rewritten */
        size_t len2 = 0;
        unsigned char *again = ta_read_bytes(path, &len2);
        ck_assert(len2 == len && memcmp(again, good, len) == 0);
        free(again);
    }
    /* a version this build does not know, with a valid checksum: refused, rebuilt */
    unsigned char *v2 = malloc(len);
    memcpy(v2, good, len);
    v2[4] = 2;
    uint32_t crc = qr_crc32(v2, len - 4);
    for (int i = 0; i < 4; i++)
        v2[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    ta_write_bytes(path, v2, len);
    free(v2);
    w.n = 0;
    w.text[0] = '\0';
    ta_splits b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_CORRUPT);
    ck_assert_msg(strstr(w.text, "format version 2, this build reads 1"), "warning: %s", w.text);
    ta_splits_free(&b);
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_HIT);
    ta_splits_free(&b);
    free(good);
    ta_splits_free(&a);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_cache_fallback_dir)
{
    /* the dataset's cache folder cannot be made (a file is in the way): XDG_CACHE_HOME */
    char *dir = ta_make_tree(2), *xdg = tl_tmpdir();
    char *block = ta_join(dir, ".qreg-cache");
    ta_write_bytes(block, "x", 1);
    ck_assert_int_eq(setenv("XDG_CACHE_HOME", xdg, 1), 0);
    ta_warns w;
    qr_audio_options o = ta_base_options(dir, &w);
    o.cache = 1;
    ta_splits a = ta_load_ok(&o);
    ck_assert_int_eq(a.st.cache_features, QR_AUDIO_CACHE_MISS);
    char *want = ta_join(xdg, "qreg/");
    ck_assert_msg(strncmp(a.st.cache_path, want, strlen(want)) == 0, "cache at %s",
                  a.st.cache_path);
    ck_assert_int_eq(w.n, 0);
    ta_splits b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_HIT);
    ta_splits_free(&a);
    ta_splits_free(&b);
    unsetenv("XDG_CACHE_HOME");
    /* an explicit cache_dir that cannot be written: a warning, the load still works */
    o.cache_dir = block; /* a regular file */
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_features, QR_AUDIO_CACHE_MISS);
    ck_assert_int_eq(w.n, 1);
    ck_assert_ptr_nonnull(strstr(w.text, "cannot write the feature cache"));
    ta_splits_free(&b);
    free(want);
    free(block);
    tl_rmtree(xdg);
    tl_rmtree(dir);
    free(xdg);
    free(dir);
}
END_TEST

START_TEST(test_fnv1a)
{
    ck_assert_uint_eq(qr_fnv1a64("", 0, QR_FNV1A64_INIT), UINT64_C(0xcbf29ce484222325));
    ck_assert_uint_eq(qr_fnv1a64("a", 1, QR_FNV1A64_INIT), UINT64_C(0xaf63dc4c8601ec8c));
    ck_assert_uint_eq(qr_fnv1a64("foobar", 6, QR_FNV1A64_INIT), UINT64_C(0x85944171f73967e8));
}
END_TEST

Suite *qr_suite_audio_cache(void)
{
    Suite *s = suite_create("audio_cache");
    TCase *tc;

    tc = tcase_create("cache");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fnv1a);
    tcase_add_test(tc, test_cache_hit_miss_invalidation);
    tcase_add_test(tc, test_cache_corrupt);
    tcase_add_test(tc, test_cache_fallback_dir);
    suite_add_tcase(s, tc);
    return s;
}
