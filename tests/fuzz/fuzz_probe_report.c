/* Fuzz target for the reader of mpsmig-probe's JSON report: whatever it accepts must be a
 * report whose values keep the header's promises. */
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver/probe_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
        if (!ok)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct probe_report_values v;
        struct error err = {0};
        int r = probe_report_parse((const char *)data, size, &v, &err);
        check(r == 0 || (r == -EBADMSG && err.code == r && err.message[0]));
        check(memchr(err.message, '\0', sizeof(err.message)) != NULL);
        if (r < 0)
                return 0;
        check(v.pid > 0 && v.device_count >= -1);
        check(!v.has_device || (v.sm_count >= 0 && memchr(v.uuid, '\0', sizeof(v.uuid))));
        check(!v.work_done || (v.work_kernels > 0 && v.work_end >= v.work_begin));
        check(memchr(v.status, '\0', sizeof(v.status)) && memchr(v.error, '\0', sizeof(v.error)));
        return 0;
}
