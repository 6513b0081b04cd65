/* Finding mpsmig-probe and reading its JSON report (probe_client.h), with jansson; every field is
 * checked for its type, so that a report from another version or a broken one is named, never
 * misread. */
#define _GNU_SOURCE
#include "driver/probe_client.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_executable_file(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
               faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

static int found(const char *path, char **ret_path, struct error *err)
{
        char *copy = strdup(path);
        if (!copy)
                return error_set(err, -ENOMEM, "out of memory");
        *ret_path = copy;
        return 0;
}

int probe_find(char **ret_path, struct error *err)
{
        const char *override = getenv(PROBE_ENV_OVERRIDE);
        if (override && override[0]) {
                if (override[0] != '/' || !is_executable_file(override))
                        return error_set(err, -EINVAL,
                                         "%s=%s is not the absolute path of an executable file: "
                                         "give the full path of %s",
                                         PROBE_ENV_OVERRIDE, override, PROBE_PROGRAM);
                return found(override, ret_path, err);
        }
        char self[PATH_MAX], candidate[PATH_MAX + sizeof(PROBE_PROGRAM)];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        (void)snprintf(candidate, sizeof(candidate), "%s/%s", self, PROBE_PROGRAM);
                        if (is_executable_file(candidate))
                                return found(candidate, ret_path, err);
                }
        }
        const char *path = getenv("PATH");
        for (const char *p = path ? path : ""; *p;) {
                size_t len = strcspn(p, ":");
                /* Relative entries would run whatever the current folder holds: skipped. */
                if (len > 0 && p[0] == '/' && len < PATH_MAX) {
                        (void)snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len, p,
                                       PROBE_PROGRAM);
                        if (is_executable_file(candidate))
                                return found(candidate, ret_path, err);
                }
                p += len;
                if (*p == ':')
                        p++;
        }
        return error_set(err, -ENOENT,
                         "cannot find %s: not in $%s, beside mpsmig, nor in the absolute folders "
                         "of $PATH (it is installed with mpsmig; %s=PATH names it)",
                         PROBE_PROGRAM, PROBE_ENV_OVERRIDE, PROBE_ENV_OVERRIDE);
}

static int bad(struct error *err, const char *field)
{
        return error_set(err, -EBADMSG, "the probe's report has no valid \"%s\"", field);
}

/* A number field (integer or real) that may be null: *ret stays `fallback` for null/absent. */
static int number_or_null(json_t *object, const char *name, double fallback, double *ret,
                          struct error *err)
{
        json_t *value = json_object_get(object, name);
        *ret = fallback;
        if (!value || json_is_null(value))
                return 0;
        if (!json_is_number(value))
                return bad(err, name);
        *ret = json_number_value(value);
        return 0;
}

static int copy_string(json_t *object, const char *name, bool required, char *buffer, size_t size,
                       struct error *err)
{
        json_t *value = json_object_get(object, name);
        buffer[0] = '\0';
        if (!value || json_is_null(value))
                return required ? bad(err, name) : 0;
        if (!json_is_string(value))
                return bad(err, name);
        (void)snprintf(buffer, size, "%s", json_string_value(value));
        return 0;
}

static int parse_device(json_t *device, struct probe_report_values *values, struct error *err)
{
        json_t *sm = json_object_get(device, "sm_count");
        json_t *memory = json_object_get(device, "total_memory");
        json_t *kernel = json_object_get(device, "kernel");
        json_t *alloc = json_object_get(device, "alloc");
        if (!json_is_object(device) || !json_is_integer(sm) || !json_is_integer(memory) ||
            json_integer_value(sm) < 0 || json_integer_value(sm) > 100000 ||
            json_integer_value(memory) < 0)
                return bad(err, "devices");
        int r = copy_string(device, "uuid", true, values->uuid, sizeof(values->uuid), err);
        if (r == 0)
                r = copy_string(device, "name", true, values->name, sizeof(values->name), err);
        if (r < 0)
                return r;
        values->has_device = true;
        values->sm_count = (int)json_integer_value(sm);
        values->total_memory = (unsigned long long)json_integer_value(memory);
        values->kernel_ok = json_is_string(kernel) && strcmp(json_string_value(kernel), "ok") == 0;
        if (alloc) {
                json_t *bytes = json_object_get(alloc, "bytes");
                if (!json_is_object(alloc) || !json_is_integer(bytes) ||
                    json_integer_value(bytes) < 0)
                        return bad(err, "alloc");
                values->alloc_tried = true;
                values->alloc_bytes = (unsigned long long)json_integer_value(bytes);
                return copy_string(alloc, "result", true, values->alloc_result,
                                   sizeof(values->alloc_result), err);
        }
        return 0;
}

static int parse_work(json_t *work, struct probe_report_values *values, struct error *err)
{
        if (!work || json_is_null(work))
                return 0;
        json_t *kernels = json_object_get(work, "kernels");
        if (!json_is_object(work) || !json_is_integer(kernels) || json_integer_value(kernels) < 1 ||
            json_integer_value(kernels) > 100000000)
                return bad(err, "work");
        values->work_kernels = (unsigned)json_integer_value(kernels);
        static const char *const fields[] = {"seconds", "begin", "end", "late_seconds"};
        double *targets[] = {&values->work_seconds, &values->work_begin, &values->work_end,
                             &values->work_late};
        for (size_t i = 0; i < 4; i++) {
                json_t *value = json_object_get(work, fields[i]);
                if (!json_is_number(value))
                        return bad(err, fields[i]);
                *targets[i] = json_number_value(value);
        }
        if (values->work_end < values->work_begin || values->work_seconds < 0)
                return bad(err, "work");
        values->work_done = true;
        return 0;
}

int probe_report_parse(const char *text, size_t size, struct probe_report_values *ret,
                       struct error *err)
{
        struct probe_report_values values = {.device_count = -1, .startup_seconds = -1};
        json_error_t parse_error;
        json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &parse_error);
        if (!root)
                return error_set(err, -EBADMSG, "the probe's report is not JSON: %s (line %d)",
                                 parse_error.text, parse_error.line);
        int r = 0;
        json_t *pid = json_object_get(root, "pid");
        json_t *count = json_object_get(root, "device_count");
        json_t *devices = json_object_get(root, "devices");
        json_t *timings = json_object_get(root, "timings");
        double number;
        if (!json_is_object(root) || !json_is_integer(pid) || json_integer_value(pid) <= 0 ||
            json_integer_value(pid) > INT_MAX)
                r = bad(err, "pid");
        else if (count && !json_is_null(count) &&
                 (!json_is_integer(count) || json_integer_value(count) < 0 ||
                  json_integer_value(count) > 4096))
                r = bad(err, "device_count");
        else if (!json_is_array(devices))
                r = bad(err, "devices");
        else if (!json_is_string(timings))
                r = bad(err, "timings");
        if (r == 0) {
                values.pid = (pid_t)json_integer_value(pid);
                if (json_is_integer(count))
                        values.device_count = (int)json_integer_value(count);
                values.timings_simulated = strcmp(json_string_value(timings), "simulated") == 0;
                if (json_array_size(devices) > 0)
                        r = parse_device(json_array_get(devices, 0), &values, err);
        }
        if (r == 0)
                r = number_or_null(root, "startup_seconds", -1, &number, err);
        if (r == 0) {
                values.startup_seconds = number;
                r = parse_work(json_object_get(root, "work"), &values, err);
        }
        if (r == 0)
                r = copy_string(root, "status", true, values.status, sizeof(values.status), err);
        if (r == 0)
                r = copy_string(root, "error", false, values.error, sizeof(values.error), err);
        json_decref(root);
        if (r < 0)
                return r;
        *ret = values;
        return 0;
}
