/* placeholder, being written */
#include <check.h>
#include "testlib.h"
Suite *qr_suite_train(void)
{
    return suite_create("train");
}
