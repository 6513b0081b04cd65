/* `mpsmig bench --plot FILE`: throughput against N as an SVG drawn by gnuplot, fed a script on
 * its stdin with the figures inline; written beside FILE and renamed over it. Where gnuplot is
 * missing (a GPU node rarely has it) the script is saved as FILE.gp, to be run elsewhere. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fd_io.h"
#include "base/spawn.h"
#include "ops/bench.h"

#define GNUPLOT    "gnuplot"
#define GNUPLOT_MS 30000

/* The first absolute $PATH entry that holds an executable gnuplot. */
static bool find_gnuplot(char *buffer, size_t size)
{
        const char *path = getenv("PATH");
        for (const char *p = path ? path : ""; *p;) {
                size_t len = strcspn(p, ":");
                struct stat st;
                if (len > 0 && p[0] == '/' &&
                    snprintf(buffer, size, "%.*s/%s", (int)len, p, GNUPLOT) < (int)size &&
                    stat(buffer, &st) == 0 && S_ISREG(st.st_mode) && access(buffer, X_OK) == 0)
                        return true;
                p += len;
                if (*p == ':')
                        p++;
        }
        return false;
}

/* The script, output to `output`. A malloc'd string, or NULL when out of memory. */
static char *plot_script(const struct bench_report *report, const char *output)
{
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        fprintf(f,
                "set terminal svg size 800,500 dynamic enhanced font 'sans,12' background "
                "rgb 'white'\n"
                "set output '%s'\n"
                "set title \"mpsmig bench on %s%s%s%s\\n%u kernels of 8x128 threads a client, "
                "%llu cycles each\"\n"
                "set xlabel 'clients at once (N)'\n"
                "set ylabel 'kernels per second, all clients'\n"
                "set key top left\n"
                "set grid\n"
                "set logscale x 2\n"
                "set xtics (",
                output, report->target->gpu->name,
                report->target->mig_device ? " MIG " : " (whole GPU)",
                report->target->mig_device ? report->target->mig_device->profile : "",
                report->timings_simulated ? ", simgpu: timings simulated" : "", report->kernels,
                report->spin_cycles);
        for (size_t i = 0; i < report->count; i++)
                fprintf(f, "%s'%u' %u", i ? ", " : "", report->mps[i].clients,
                        report->mps[i].clients);
        fprintf(f, ")\n$data << EOD\n");
        for (size_t i = 0; i < report->count; i++)
                fprintf(f, "%u %.3f %.3f %.3f\n", report->mps[i].clients, report->mps[i].throughput,
                        report->sliced[i].throughput, report->solo_rate * report->mps[i].clients);
        fprintf(f, "EOD\n"
                   "plot $data using 1:4 with lines dashtype 2 linewidth 2 title 'N x one client "
                   "alone', \\\n"
                   "     $data using 1:2 with linespoints linewidth 2 pointtype 7 title "
                   "'through MPS', \\\n"
                   "     $data using 1:3 with linespoints linewidth 2 pointtype 5 title "
                   "'time-sliced (no MPS)'\n");
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

static int write_script(const char *path, const char *script, struct error *err)
{
        char gp[PATH_MAX];
        if (snprintf(gp, sizeof(gp), "%s.gp", path) >= (int)sizeof(gp))
                return error_set(err, -ENAMETOOLONG, "the plot's path is too long: %s", path);
        _cleanup_close_ int fd =
            open(gp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || fd_write_fully(fd, script, strlen(script)) < 0)
                return error_set(err, -errno ? -errno : -EIO, "cannot write %s: %s", gp,
                                 strerror(errno ? errno : EIO));
        return 0;
}

int bench_plot(const struct bench_report *report, const char *path, bool *ret_script_only,
               struct error *err)
{
        if (strpbrk(path, "'\n\"\\") || strpbrk(report->target->gpu->name, "'\n\"\\"))
                return error_set(err, -EINVAL,
                                 "cannot plot to %s: the path may not hold quotes, backslashes "
                                 "or newlines",
                                 path);
        char gnuplot[PATH_MAX];
        if (!find_gnuplot(gnuplot, sizeof(gnuplot))) {
                _cleanup_free_ char *script = plot_script(report, path);
                if (!script)
                        return error_set(err, -ENOMEM, "out of memory");
                int r = write_script(path, script, err);
                if (r == 0)
                        *ret_script_only = true;
                return r;
        }
        char temporary[PATH_MAX];
        const char *slash = strrchr(path, '/');
        if (snprintf(temporary, sizeof(temporary), "%.*s.%s.XXXXXX",
                     slash ? (int)(slash - path + 1) : 0, path,
                     slash ? slash + 1 : path) >= (int)sizeof(temporary))
                return error_set(err, -ENAMETOOLONG, "the plot's path is too long: %s", path);
        _cleanup_close_ int fd = mkostemp(temporary, O_CLOEXEC);
        if (fd < 0)
                return error_set(err, -errno, "cannot write beside %s: %s", path, strerror(errno));
        _cleanup_free_ char *script = plot_script(report, temporary);
        if (!script) {
                (void)unlink(temporary);
                return error_set(err, -ENOMEM, "out of memory");
        }
        char *const argv[] = {gnuplot, NULL};
        char *const envp[] = {"LC_ALL=C", NULL};
        struct spawn_options spawn = {
            .path = gnuplot,
            .argv = argv,
            .envp = envp,
            .stdin_data = script,
            .stdin_size = strlen(script),
            .timeout_ms = GNUPLOT_MS,
        };
        struct spawn_result result;
        int r = spawn_run(&spawn, &result, err);
        if (r < 0) {
                (void)unlink(temporary);
                return r;
        }
        struct stat st;
        bool ok = result.exited && result.exit_status == 0 && fstat(fd, &st) == 0 && st.st_size > 0;
        if (!ok) {
                char outcome[160];
                (void)spawn_result_describe(&result, GNUPLOT_MS, outcome, sizeof(outcome));
                r = error_set(err, -EIO, "gnuplot %s: %.300s", outcome,
                              result.err_size ? result.err : "no message");
        } else if (fchmod(fd, 0644) < 0 || rename(temporary, path) < 0) {
                r = error_set(err, -errno, "cannot write %s: %s", path, strerror(errno));
        }
        spawn_result_done(&result);
        if (r < 0)
                (void)unlink(temporary);
        else
                *ret_script_only = false;
        return r;
}
