/* One runner for every suite; the exit code is the number of failures (0 = pass). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <check.h>
#include "testlib.h"

int main(void)
{
    /* Run inside a fresh temporary directory: tests that train with default output paths
     * (MODEL.qrm, MODEL.qrm.ckpt in the working directory) leave nothing in the build tree. */
    char *cwd = getcwd(NULL, 0);
    char *work = tl_tmpdir_plain();
    if (!cwd || !work || chdir(work) != 0) {
        fprintf(stderr, "qreg-tests: cannot enter a temporary directory\n");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(qr_suite_graph());
    /* Add one line per module suite. */
    srunner_add_suite(sr, qr_suite_quant());
    srunner_add_suite(sr, qr_suite_kd());
    srunner_add_suite(sr, qr_suite_resume());
    srunner_add_suite(sr, qr_suite_export());
    srunner_add_suite(sr, qr_suite_devlayers());
    srunner_add_suite(sr, qr_suite_distill_prune());
    srunner_add_suite(sr, qr_suite_quant_plan());
    srunner_add_suite(sr, qr_suite_gru());
    srunner_add_suite(sr, qr_suite_seq_ops());
    srunner_add_suite(sr, qr_suite_rng());
    srunner_add_suite(sr, qr_suite_init());
    srunner_add_suite(sr, qr_suite_optim());
    srunner_add_suite(sr, qr_suite_csv());
    srunner_add_suite(sr, qr_suite_audio());
    srunner_add_suite(sr, qr_suite_audio_cache());
    srunner_add_suite(sr, qr_suite_audio_augment());
    srunner_add_suite(sr, qr_suite_audio_voice());
    srunner_add_suite(sr, qr_suite_frontend());
    srunner_add_suite(sr, qr_suite_model());
    srunner_add_suite(sr, qr_suite_model_file());
    srunner_add_suite(sr, qr_suite_train());
    srunner_add_suite(sr, qr_suite_runtime_kernels());
    srunner_add_suite(sr, qr_suite_runtime_layers());
    srunner_add_suite(sr, qr_suite_runtime_models());
    srunner_add_suite(sr, qr_suite_runtime_blob());
    srunner_add_suite(sr, qr_suite_runtime_builder());
    srunner_add_suite(sr, qr_suite_runtime_sparse());
    srunner_add_suite(sr, qr_suite_runtime_compiled());
    srunner_add_suite(sr, qr_suite_sparse());
    srunner_add_suite(sr, qr_suite_sweep());
    srunner_add_suite(sr, qr_suite_recipes());
    srunner_add_suite(sr, qr_suite_recipe_build());
    srunner_add_suite(sr, qr_suite_reliability());
    srunner_add_suite(sr, qr_suite_scales());
    srunner_add_suite(sr, qr_suite_schedules());
    srunner_add_suite(sr, qr_suite_act_quant());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (chdir(cwd) == 0)
        tl_rmtree(work);
    free(cwd);
    free(work);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
