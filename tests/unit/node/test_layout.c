/* The folder layout in a private runtime folder: which runtime folder is chosen, the refusal of
 * one too long for the daemon's sockets (at the exact boundary), the default and seed paths,
 * making, reading the pid file, cleaning a dead daemon's files, a planted link refused, and
 * removal of what mpsmig made only, and of the seed scripts' /tmp folders when they hold only
 * what the control program writes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "base/safe_fs.h"
#include "driver/mps_control.h"
#include "node/layout.h"

#define UUID "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0"

static char base[1024];

static int setup(void **state)
{
        (void)snprintf(base, sizeof(base), "%s/layout.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(base) || chmod(base, 0755) < 0)
                return -1;
        return unsetenv(LAYOUT_RUNTIME_DIR_ENV);
}

static int teardown(void **state)
{
        char command[1200];
        (void)snprintf(command, sizeof(command), "rm -rf '%s'", base);
        return system(command) == 0 ? 0 : -1;
}

static bool exists(const char *format, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *format, ...)
{
        char path[4096];
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(path, sizeof(path), format, ap);
        va_end(ap);
        struct stat st;
        return lstat(path, &st) == 0;
}

static struct layout runtime_layout(const char *name)
{
        char dir[2048];
        (void)snprintf(dir, sizeof(dir), "%s/%s", base, name);
        struct layout layout;
        struct error err = {0};
        if (layout_init(LAYOUT_DEFAULT, dir, &layout, &err) < 0)
                fail_msg("layout_init: %s", err.message);
        return layout;
}

static void test_runtime_folder_choice(void **state)
{
        struct layout layout;
        struct error err = {0};
        assert_int_equal(setenv(LAYOUT_RUNTIME_DIR_ENV, "/from/env", 1), 0);
        assert_int_equal(layout_init(LAYOUT_DEFAULT, "/from/option//", &layout, &err), 0);
        assert_string_equal(layout.runtime_dir, "/from/option");
        assert_int_equal(layout_init(LAYOUT_DEFAULT, NULL, &layout, &err), 0);
        assert_string_equal(layout.runtime_dir, "/from/env");
        assert_int_equal(unsetenv(LAYOUT_RUNTIME_DIR_ENV), 0);

        struct stat system_dir;
        bool root_made_it = lstat(LAYOUT_RUNTIME_DIR_ROOT, &system_dir) == 0 &&
                            S_ISDIR(system_dir.st_mode) && system_dir.st_uid == 0;
        if (geteuid() == 0 || root_made_it) {
                assert_int_equal(layout_init(LAYOUT_DEFAULT, NULL, &layout, &err), 0);
                assert_string_equal(layout.runtime_dir, LAYOUT_RUNTIME_DIR_ROOT);
        } else {
                assert_int_equal(setenv("XDG_RUNTIME_DIR", "/run/user/77", 1), 0);
                assert_int_equal(layout_init(LAYOUT_DEFAULT, NULL, &layout, &err), 0);
                assert_string_equal(layout.runtime_dir, "/run/user/77/mpsmig");
                assert_int_equal(unsetenv("XDG_RUNTIME_DIR"), 0);
                assert_int_equal(layout_init(LAYOUT_DEFAULT, NULL, &layout, &err), -ENOENT);
                assert_non_null(strstr(err.message, "--runtime-dir"));
        }

        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(base), 0);
        assert_int_equal(layout_init(LAYOUT_DEFAULT, "rel/dir/", &layout, &err), 0);
        assert_int_equal(chdir(cwd), 0);
        char expected[2048];
        (void)snprintf(expected, sizeof(expected), "%s/rel/dir", base);
        assert_string_equal(layout.runtime_dir, expected);
}

static void test_runtime_folder_too_long_for_the_socket(void **state)
{
        /* <root>/<40-character UUID>/pipe must be at most MPS_CONTROL_PIPE_DIR_MAX long. */
        size_t longest = MPS_CONTROL_PIPE_DIR_MAX - strlen("/" UUID "/pipe");
        char root[256];
        memset(root, 'r', sizeof(root));
        root[0] = '/';
        root[longest] = '\0';
        struct layout layout;
        struct error err = {0};
        assert_int_equal(layout_init(LAYOUT_DEFAULT, root, &layout, &err), 0);
        struct layout_paths paths;
        assert_int_equal(layout_paths(&layout, UUID, &paths, &err), 0);
        assert_int_equal(strlen(paths.pipe_dir), MPS_CONTROL_PIPE_DIR_MAX);

        root[longest] = 'r';
        root[longest + 1] = '\0';
        assert_int_equal(layout_init(LAYOUT_DEFAULT, root, &layout, &err), -ENAMETOOLONG);
        assert_non_null(strstr(err.message, "control_privileged"));
        char most[64];
        (void)snprintf(most, sizeof(most), "of at most %zu characters", longest);
        assert_non_null(strstr(err.message, most));
        /* The seed layout's folders are in /tmp whatever the runtime folder. */
        assert_int_equal(layout_init(LAYOUT_SEED, root, &layout, &err), 0);
}

static void test_paths(void **state)
{
        struct layout layout = runtime_layout("run");
        struct layout_paths paths;
        struct error err = {0};
        assert_int_equal(layout_paths(&layout, UUID, &paths, &err), 0);
        char expected[2048];
        (void)snprintf(expected, sizeof(expected), "%s/run/%s/pipe", base, UUID);
        assert_string_equal(paths.pipe_dir, expected);
        (void)snprintf(expected, sizeof(expected), "%s/run/%s/log", base, UUID);
        assert_string_equal(paths.log_dir, expected);

        struct layout seed;
        assert_int_equal(layout_init(LAYOUT_SEED, "/run/x", &seed, &err), 0);
        assert_int_equal(layout_paths(&seed, UUID, &paths, &err), 0);
        assert_string_equal(paths.pipe_dir, "/tmp/mps_" UUID);
        assert_string_equal(paths.log_dir, "/tmp/mps_log_" UUID);

        assert_int_equal(layout_paths(&layout, "MIG-GPU-8f8bff94/1/0", &paths, &err), -EINVAL);
        assert_non_null(strstr(err.message, "'/'"));
        assert_int_equal(layout_paths(&layout, "", &paths, &err), -EINVAL);

        enum layout_kind kind;
        assert_int_equal(layout_kind_parse("seed", &kind), 0);
        assert_int_equal(kind, LAYOUT_SEED);
        assert_int_equal(layout_kind_parse("tmp", &kind), -EINVAL);
        assert_string_equal(layout_kind_name(LAYOUT_DEFAULT), "default");
}

static void test_make_and_remove(void **state)
{
        struct layout layout = runtime_layout("run");
        struct error err = {0};
        int pipe_fd = -1;
        struct layout_made made;
        assert_int_equal(layout_open_pipe(&layout, UUID, &pipe_fd, &err), -ENOENT);
        assert_int_equal(layout_make(&layout, UUID, &pipe_fd, &made, &err), 0);
        assert_true(made.instance_dir && made.pipe_dir && made.log_dir);
        assert_true(safe_fs_is_marked(pipe_fd));
        close(pipe_fd);
        assert_true(exists("%s/run/%s/pipe/%s", base, UUID, SAFE_FS_MARKER));
        assert_true(exists("%s/run/%s/log/%s", base, UUID, SAFE_FS_MARKER));

        assert_int_equal(layout_make(&layout, UUID, &pipe_fd, &made, &err), 0);
        assert_false(made.instance_dir || made.pipe_dir || made.log_dir);
        close(pipe_fd);

        /* What a daemon leaves after quit stays until removal. */
        assert_int_equal(layout_open_pipe(&layout, UUID, &pipe_fd, &err), 0);
        assert_int_equal(mkfifoat(pipe_fd, "log", 0600), 0);
        int control = openat(pipe_fd, "control_lock", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(control >= 0);
        close(control);
        close(pipe_fd);

        struct layout_removal removal;
        assert_int_equal(layout_remove(&layout, UUID, &removal, &err), 0);
        assert_int_equal(removal.removed, 3);
        assert_int_equal(removal.left_unmarked, 0);
        assert_false(exists("%s/run/%s", base, UUID));
        assert_true(exists("%s/run", base)); /* the runtime folder stays (it holds the lock) */

        assert_int_equal(layout_remove(&layout, UUID, &removal, &err), 0);
        assert_int_equal(removal.removed, 0);
}

static void test_folders_not_made_by_mpsmig_stay(void **state)
{
        struct layout layout = runtime_layout("run");
        char path[2048];
        (void)snprintf(path, sizeof(path), "%s/run", base);
        assert_int_equal(mkdir(path, 0755), 0);
        (void)snprintf(path, sizeof(path), "%s/run/%s", base, UUID);
        assert_int_equal(mkdir(path, 0755), 0);
        (void)snprintf(path, sizeof(path), "%s/run/%s/pipe", base, UUID);
        assert_int_equal(mkdir(path, 0755), 0);
        /* Someone's work in it: an empty one would be taken for a folder mpsmig left half-made. */
        (void)snprintf(path, sizeof(path), "%s/run/%s/pipe/theirs", base, UUID);
        int theirs = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(theirs >= 0);
        close(theirs);
        struct error err = {0};
        int pipe_fd = -1;
        struct layout_made made;
        assert_int_equal(layout_make(&layout, UUID, &pipe_fd, &made, &err), 0);
        assert_false(made.instance_dir || made.pipe_dir);
        assert_true(made.log_dir);
        close(pipe_fd);
        struct layout_removal removal;
        assert_int_equal(layout_remove(&layout, UUID, &removal, &err), 0);
        assert_int_equal(removal.removed, 1);       /* log */
        assert_int_equal(removal.left_unmarked, 2); /* <UUID> and pipe */
        assert_true(exists("%s/run/%s/pipe", base, UUID));
        assert_false(exists("%s/run/%s/log", base, UUID));
}

static void test_planted_link_refused(void **state)
{
        struct layout layout = runtime_layout("run");
        char path[2048], elsewhere[2048];
        (void)snprintf(path, sizeof(path), "%s/run", base);
        assert_int_equal(mkdir(path, 0755), 0);
        (void)snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", base);
        assert_int_equal(mkdir(elsewhere, 0755), 0);
        (void)snprintf(path, sizeof(path), "%s/run/%s", base, UUID);
        assert_int_equal(symlink(elsewhere, path), 0);
        struct error err = {0};
        int pipe_fd = -1;
        assert_int_equal(layout_make(&layout, UUID, &pipe_fd, NULL, &err), -ELOOP);
        assert_non_null(strstr(err.message, "symbolic link"));
        assert_false(exists("%s/pipe", elsewhere));
        assert_int_equal(layout_open_pipe(&layout, UUID, &pipe_fd, &err), -ELOOP);
        struct layout_removal removal;
        assert_int_equal(layout_remove(&layout, UUID, &removal, &err), -ELOOP);
        assert_true(exists("%s", path));
}

static void test_pid_file_and_stale_files(void **state)
{
        struct layout layout = runtime_layout("run");
        struct error err = {0};
        int pipe_fd = -1;
        assert_int_equal(layout_make(&layout, UUID, &pipe_fd, NULL, &err), 0);
        pid_t pid = 0;
        assert_int_equal(layout_read_pid(pipe_fd, &pid), -ENOENT);
        static const char *const leftovers[] = {LAYOUT_PID_FILE, "control", "control_privileged",
                                                "control_lock",  "log",     "unrelated"};
        for (size_t i = 0; i < ELEMENTSOF(leftovers); i++) {
                int fd = openat(pipe_fd, leftovers[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                assert_true(fd >= 0);
                if (i == 0)
                        assert_int_equal(write(fd, "4242\n", 5), 5);
                close(fd);
        }
        assert_int_equal(layout_read_pid(pipe_fd, &pid), 0);
        assert_int_equal(pid, 4242);
        assert_int_equal(layout_clean_daemon_files(pipe_fd, &err), 5);
        assert_int_equal(layout_read_pid(pipe_fd, &pid), -ENOENT);
        assert_int_equal(faccessat(pipe_fd, "unrelated", F_OK, 0), 0);

        int fd = openat(pipe_fd, LAYOUT_PID_FILE, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_int_equal(write(fd, "abc\n", 4), 4);
        close(fd);
        assert_int_equal(layout_read_pid(pipe_fd, &pid), -EBADMSG);
        close(pipe_fd);
}

/* The seed scripts' folders of a UUID of this test's own (its pid), as they leave them. */
static char seed_uuid[64];

static void seed_path(char *buffer, size_t size, const char *prefix, const char *name)
{
        (void)snprintf(buffer, size, "%s/%s%s%s%s", LAYOUT_SEED_DIR, prefix, seed_uuid,
                       name ? "/" : "", name ? name : "");
}

static void make_seed_entry(const char *prefix, const char *name, mode_t type)
{
        char path[512];
        seed_path(path, sizeof(path), prefix, name);
        if (type == S_IFSOCK) {
                struct sockaddr_un address = {.sun_family = AF_UNIX};
                assert_true(strlen(path) < sizeof(address.sun_path));
                memcpy(address.sun_path, path, strlen(path) + 1);
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_true(fd >= 0);
                assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
                close(fd);
        } else if (type == S_IFIFO) {
                assert_int_equal(mkfifo(path, 0777), 0);
        } else {
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                assert_true(fd >= 0);
                close(fd);
        }
}

/* The pipe and log folders as a seed daemon leaves them after `quit`, `control` a regular file
 * instead of a socket when `wrong_control`. */
static void make_seed_folders(bool wrong_control)
{
        char path[512];
        seed_path(path, sizeof(path), LAYOUT_SEED_PIPE_PREFIX, NULL);
        assert_int_equal(mkdir(path, 0755), 0);
        seed_path(path, sizeof(path), LAYOUT_SEED_LOG_PREFIX, NULL);
        assert_int_equal(mkdir(path, 0755), 0);
        make_seed_entry(LAYOUT_SEED_PIPE_PREFIX, "control", wrong_control ? S_IFREG : S_IFSOCK);
        make_seed_entry(LAYOUT_SEED_PIPE_PREFIX, "control_privileged", S_IFSOCK);
        make_seed_entry(LAYOUT_SEED_PIPE_PREFIX, "control_lock", S_IFREG);
        make_seed_entry(LAYOUT_SEED_PIPE_PREFIX, "log", S_IFIFO);
        make_seed_entry(LAYOUT_SEED_PIPE_PREFIX, LAYOUT_PID_FILE, S_IFREG);
        make_seed_entry(LAYOUT_SEED_LOG_PREFIX, "control.log", S_IFREG);
        make_seed_entry(LAYOUT_SEED_LOG_PREFIX, "server.log", S_IFREG);
}

static int seed_teardown(void **state)
{
        char command[1200];
        (void)snprintf(command, sizeof(command), "rm -rf '%s/%s%s' '%s/%s%s'", LAYOUT_SEED_DIR,
                       LAYOUT_SEED_PIPE_PREFIX, seed_uuid, LAYOUT_SEED_DIR, LAYOUT_SEED_LOG_PREFIX,
                       seed_uuid);
        return system(command) == 0 ? teardown(state) : -1;
}

static void test_seed_folders_removed_when_safe(void **state)
{
        (void)snprintf(seed_uuid, sizeof(seed_uuid), "MIG-00000000-0000-0000-0000-%012d",
                       (int)getpid());
        struct layout seed;
        struct error err = {0};
        assert_int_equal(layout_init(LAYOUT_SEED, base, &seed, &err), 0);
        struct layout_removal removal;

        /* Only what the control program writes: both removed, by name. */
        make_seed_folders(false);
        assert_int_equal(layout_remove(&seed, seed_uuid, &removal, &err), 0);
        assert_int_equal(removal.removed, 2);
        assert_int_equal(removal.left_unmarked, 0);
        assert_string_equal(removal.kept_reason, "");
        assert_false(exists("%s/%s%s", LAYOUT_SEED_DIR, LAYOUT_SEED_PIPE_PREFIX, seed_uuid));
        assert_false(exists("%s/%s%s", LAYOUT_SEED_DIR, LAYOUT_SEED_LOG_PREFIX, seed_uuid));

        /* A `control` that is no socket: that folder is kept, untouched, and the reason says so;
         * the log folder goes. */
        make_seed_folders(true);
        assert_int_equal(layout_remove(&seed, seed_uuid, &removal, &err), 0);
        assert_int_equal(removal.removed, 1);
        assert_int_equal(removal.left_unmarked, 1);
        assert_non_null(strstr(removal.kept_reason, "it holds control, which is not"));
        assert_true(exists("%s/%s%s/%s", LAYOUT_SEED_DIR, LAYOUT_SEED_PIPE_PREFIX, seed_uuid,
                           LAYOUT_PID_FILE));
        assert_false(exists("%s/%s%s", LAYOUT_SEED_DIR, LAYOUT_SEED_LOG_PREFIX, seed_uuid));

        /* A link in place of the log folder. */
        char path[2048], target[1100];
        (void)snprintf(target, sizeof(target), "%s/elsewhere", base);
        assert_int_equal(mkdir(target, 0755), 0);
        (void)snprintf(path, sizeof(path), "%s/server.log", target);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        seed_path(path, sizeof(path), LAYOUT_SEED_LOG_PREFIX, NULL);
        assert_int_equal(symlink(target, path), 0);
        /* As for any folder: a link where a folder should be is an error naming it (stop fails
         * that target), never followed. */
        assert_int_equal(layout_remove(&seed, seed_uuid, &removal, &err), -ELOOP);
        assert_non_null(strstr(err.message, "is a symbolic link"));
        assert_true(exists("%s", path));
        assert_true(exists("%s/server.log", target));
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            TEST(test_runtime_folder_choice),
            TEST(test_runtime_folder_too_long_for_the_socket),
            TEST(test_paths),
            TEST(test_make_and_remove),
            TEST(test_folders_not_made_by_mpsmig_stay),
            TEST(test_planted_link_refused),
            TEST(test_pid_file_and_stale_files),
            cmocka_unit_test_setup_teardown(test_seed_folders_removed_when_safe, setup,
                                            seed_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
