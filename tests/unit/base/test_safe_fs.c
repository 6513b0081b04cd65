/* safe_fs in a private folder: roots walked without untrusted links, folders made with exact
 * modes and marks, existing ones refused when they are links, files, another user's or writable
 * by others, removal of marked folders only (never through a link, never recursing), and reading
 * a file that a fifo cannot hang. Checks needing another user run as root (CI); without root they
 * are skipped and the program exits 77 so that ctest does not count them as passed. */
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
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "base/safe_fs.h"

#define NOBODY 65534

static char base[1024];
static bool skipped;

static void path_of(char *buffer, size_t size, const char *relative)
{
        (void)snprintf(buffer, size, "%s/%s", base, relative);
}

static void make_dir(const char *relative, mode_t mode)
{
        char path[4096];
        path_of(path, sizeof(path), relative);
        assert_int_equal(mkdir(path, mode), 0);
        assert_int_equal(chmod(path, mode), 0);
}

static void make_file(const char *relative, const char *text)
{
        char path[4096];
        path_of(path, sizeof(path), relative);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static bool exists(const char *relative)
{
        char path[4096];
        struct stat st;
        path_of(path, sizeof(path), relative);
        return lstat(path, &st) == 0;
}

static mode_t mode_of(const char *relative)
{
        char path[4096];
        struct stat st;
        path_of(path, sizeof(path), relative);
        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

static int open_base(void)
{
        int fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static void skip_without_root(void)
{
        if (geteuid() != 0) {
                skipped = true;
                skip();
        }
}

static int setup(void **state)
{
        (void)snprintf(base, sizeof(base), "%s/safe_fs.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(base))
                return -1;
        return chmod(base, 0755);
}

static int teardown(void **state)
{
        char command[4200];
        (void)snprintf(command, sizeof(command), "rm -rf '%s'", base);
        return system(command) == 0 ? 0 : -1;
}

static void test_open_root_makes_missing_folders_with_exact_mode(void **state)
{
        char path[4096];
        path_of(path, sizeof(path), "a/b/c");
        mode_t old = umask(077);
        struct error err = {0};
        int fd = -1;
        int r = safe_fs_open_root(path, true, 0755, &fd, &err);
        umask(old);
        assert_int_equal(r, 0);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(mode_of("a"), 0755);
        assert_int_equal(mode_of("a/b/c"), 0755);
        assert_false(exists("a/b/c/" SAFE_FS_MARKER)); /* roots are not marked */
}

static void test_open_root_refuses_bad_paths(void **state)
{
        struct error err = {0};
        int fd = -1;
        assert_int_equal(safe_fs_open_root("relative/path", true, 0755, &fd, &err), -EINVAL);
        char path[4096];
        path_of(path, sizeof(path), "x/../y");
        assert_int_equal(safe_fs_open_root(path, true, 0755, &fd, &err), -EINVAL);
        assert_non_null(strstr(err.message, ".."));
        path_of(path, sizeof(path), "missing");
        assert_int_equal(safe_fs_open_root(path, false, 0755, &fd, &err), -ENOENT);
        assert_non_null(strstr(err.message, "does not exist"));
        assert_false(exists("missing"));
        make_file("file", "x");
        path_of(path, sizeof(path), "file/below");
        assert_int_equal(safe_fs_open_root(path, true, 0755, &fd, &err), -ENOTDIR);
}

static void test_open_root_refuses_folder_writable_by_others(void **state)
{
        make_dir("open", 0777);
        char path[4096];
        path_of(path, sizeof(path), "open/inner");
        struct error err = {0};
        int fd = -1;
        assert_int_equal(safe_fs_open_root(path, true, 0755, &fd, &err), -EPERM);
        assert_non_null(strstr(err.message, "writable by other users"));
        assert_false(exists("open/inner"));
        /* Sticky like /tmp: others may add entries but not replace ours, so it is trusted. */
        char sticky[4096];
        path_of(sticky, sizeof(sticky), "open");
        assert_int_equal(chmod(sticky, 01777), 0);
        assert_int_equal(safe_fs_open_root(path, true, 0755, &fd, &err), 0);
        close(fd);
}

static void test_open_root_refuses_a_link_others_could_plant(void **state)
{
        /* A link in a sticky, world-writable folder (like /tmp) could be anyone's. */
        make_dir("target", 0755);
        make_dir("shared", 01777);
        char link[4096], target[4096], path[4096];
        path_of(link, sizeof(link), "shared/link");
        path_of(target, sizeof(target), "target");
        assert_int_equal(symlink(target, link), 0);
        path_of(path, sizeof(path), "shared/link/inner");
        struct error err = {0};
        int fd = -1;
        assert_int_equal(safe_fs_open_root(path, true, 0755, &fd, &err), -ELOOP);
        assert_non_null(strstr(err.message, "symbolic link"));
        assert_false(exists("target/inner"));
}

static void test_open_root_follows_a_link_only_root_could_make(void **state)
{
        make_dir("real", 0755);
        char link[4096], path[4096];
        path_of(link, sizeof(link), "alias");
        assert_int_equal(symlink("real", link), 0); /* relative, in a folder only we can write */
        path_of(path, sizeof(path), "alias/inner");
        struct error err = {0};
        int fd = -1;
        int r = safe_fs_open_root(path, true, 0755, &fd, &err);
        if (geteuid() == 0) {
                /* Root's link in root's 0755 folder: as trusted as the path typed. */
                assert_int_equal(r, 0);
                close(fd);
                assert_true(exists("real/inner"));
        } else {
                /* A user's link is never followed, even the user's own. */
                assert_int_equal(r, -ELOOP);
                assert_false(exists("real/inner"));
        }
}

static void test_make_folder_marks_new_folders_only(void **state)
{
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        bool created = false;
        mode_t old = umask(077);
        int r = safe_fs_make_folder(dir, base, "pipe", 0755, &fd, &created, &err);
        umask(old);
        assert_int_equal(r, 0);
        assert_true(created);
        assert_true(safe_fs_is_marked(fd));
        close(fd);
        assert_int_equal(mode_of("pipe"), 0755);
        assert_true(exists("pipe/" SAFE_FS_MARKER));

        assert_int_equal(safe_fs_make_folder(dir, base, "pipe", 0755, NULL, &created, &err), 0);
        assert_false(created);

        /* A folder someone else filled is theirs; an empty one of ours is what an mpsmig killed
         * between mkdir and the marker left: finished, marked, and counted as made. */
        make_dir("found", 0755);
        make_file("found/keep", "x");
        assert_int_equal(safe_fs_make_folder(dir, base, "found", 0755, &fd, &created, &err), 0);
        assert_false(created);
        assert_false(safe_fs_is_marked(fd));
        close(fd);
        make_dir("interrupted", 0755);
        assert_int_equal(safe_fs_make_folder(dir, base, "interrupted", 0755, &fd, &created, &err),
                         0);
        assert_true(created);
        assert_true(safe_fs_is_marked(fd));
        close(fd);
        assert_int_equal(safe_fs_make_folder(dir, base, "a/b", 0755, NULL, NULL, &err), -EINVAL);
        assert_int_equal(safe_fs_make_folder(dir, base, "..", 0755, NULL, NULL, &err), -EINVAL);
}

static void test_make_folder_refuses_a_planted_link(void **state)
{
        make_dir("elsewhere", 0755);
        char link[4096], target[4096];
        path_of(link, sizeof(link), "pipe");
        path_of(target, sizeof(target), "elsewhere");
        assert_int_equal(symlink(target, link), 0);
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        assert_int_equal(safe_fs_make_folder(dir, base, "pipe", 0755, &fd, NULL, &err), -ELOOP);
        assert_non_null(strstr(err.message, "symbolic link"));
        assert_non_null(strstr(err.message, target));
        assert_false(exists("elsewhere/" SAFE_FS_MARKER));
        assert_int_equal(safe_fs_open_folder(dir, base, "pipe", &fd, &err), -ELOOP);
}

static void test_make_folder_refuses_a_file_and_an_open_folder(void **state)
{
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        make_file("pipe", "not a folder");
        assert_int_equal(safe_fs_make_folder(dir, base, "pipe", 0755, NULL, NULL, &err), -ENOTDIR);
        assert_non_null(strstr(err.message, "not a folder"));
        make_dir("open", 0777);
        assert_int_equal(safe_fs_make_folder(dir, base, "open", 0755, NULL, NULL, &err), -EPERM);
        assert_non_null(strstr(err.message, "writable by other users"));
}

static void test_make_folder_refuses_another_users_folder(void **state)
{
        struct error err = {0};
        int fd = -1;
        if (geteuid() == 0) {
                make_dir("foreign", 0755);
                char path[4096];
                path_of(path, sizeof(path), "foreign");
                assert_int_equal(chown(path, NOBODY, NOBODY), 0);
                _cleanup_close_ int dir = open_base();
                assert_int_equal(safe_fs_make_folder(dir, base, "foreign", 0755, &fd, NULL, &err),
                                 -EPERM);
                /* Not even to read it: only root's and ours are trusted. */
                struct error read_err = {0};
                assert_int_equal(safe_fs_open_folder(dir, base, "foreign", &fd, &read_err), -EPERM);
        } else {
                /* root's /usr is another user's folder for us */
                _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                assert_int_equal(safe_fs_make_folder(root, "", "usr", 0755, &fd, NULL, &err),
                                 -EPERM);
                /* ... but root's folders may be read (status of root's daemons). */
                struct error read_err = {0};
                assert_int_equal(safe_fs_open_folder(root, "", "usr", &fd, &read_err), 0);
                close(fd);
        }
        assert_non_null(strstr(err.message, "belongs to"));
}

static void test_remove_folder_only_when_marked(void **state)
{
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        assert_int_equal(safe_fs_make_folder(dir, base, "ours", 0755, NULL, NULL, &err), 0);
        make_file("ours/control.log", "log");
        char fifo[4096];
        path_of(fifo, sizeof(fifo), "ours/log");
        assert_int_equal(mkfifo(fifo, 0600), 0);
        char dangling[4096];
        path_of(dangling, sizeof(dangling), "ours/link");
        assert_int_equal(symlink("/etc/passwd", dangling), 0);
        assert_int_equal(safe_fs_remove_folder(dir, base, "ours", &err), SAFE_FS_REMOVED);
        assert_false(exists("ours"));
        assert_true(access("/etc/passwd", F_OK) == 0); /* the link went, not its target */

        make_dir("theirs", 0755);
        make_file("theirs/keep", "x");
        assert_int_equal(safe_fs_remove_folder(dir, base, "theirs", &err), SAFE_FS_NOT_MARKED);
        make_dir("left-empty", 0755);
        assert_int_equal(safe_fs_remove_folder(dir, base, "left-empty", &err), SAFE_FS_REMOVED);
        assert_false(exists("left-empty"));
        assert_true(exists("theirs/keep"));

        assert_int_equal(safe_fs_remove_folder(dir, base, "absent", &err), SAFE_FS_ABSENT);
}

static void test_remove_folder_never_follows_or_recurses(void **state)
{
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        assert_int_equal(safe_fs_make_folder(dir, base, "target", 0755, NULL, NULL, &err), 0);
        char link[4096], target[4096];
        path_of(link, sizeof(link), "link");
        path_of(target, sizeof(target), "target");
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(safe_fs_remove_folder(dir, base, "link", &err), -ELOOP);
        assert_true(exists("link"));
        assert_true(exists("target/" SAFE_FS_MARKER));

        make_dir("target/nested", 0755);
        make_file("target/file", "x");
        assert_int_equal(safe_fs_remove_folder(dir, base, "target", &err), -ENOTEMPTY);
        assert_non_null(strstr(err.message, "nested"));
        /* Checked before anything was removed: */
        assert_true(exists("target/file"));
        assert_true(exists("target/" SAFE_FS_MARKER));
}

static void test_remove_folder_leaves_another_users_entry(void **state)
{
        skip_without_root();
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        assert_int_equal(safe_fs_make_folder(dir, base, "ours", 0755, NULL, NULL, &err), 0);
        make_file("ours/theirs", "x");
        char path[4096];
        path_of(path, sizeof(path), "ours/theirs");
        assert_int_equal(chown(path, NOBODY, NOBODY), 0);
        assert_int_equal(safe_fs_remove_folder(dir, base, "ours", &err), -EPERM);
        assert_non_null(strstr(err.message, "theirs"));
        assert_true(exists("ours/theirs"));
        assert_true(exists("ours/" SAFE_FS_MARKER));
}

/* A folder made and handed to another user (the daemons' user): its owner is that user, the
 * marker stays ours; it is trusted (opened, made again, removed with what its owner wrote)
 * because only we can write where it is; handed back when asked; never handed where others
 * may write. */
static void test_handed_folder(void **state)
{
        skip_without_root();
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        bool created = false;
        assert_int_equal(
            safe_fs_make_folder_for(dir, base, "pipe", 0755, NOBODY, NOBODY, &fd, &created, &err),
            0);
        assert_true(created);
        close(fd);
        char path[4096];
        struct stat st;
        path_of(path, sizeof(path), "pipe");
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_uid, NOBODY);
        assert_int_equal(st.st_gid, NOBODY);
        assert_int_equal(st.st_mode & 07777, 0755);
        path_of(path, sizeof(path), "pipe/" SAFE_FS_MARKER);
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_uid, 0);

        assert_int_equal(safe_fs_open_folder(dir, base, "pipe", &fd, &err), 0);
        close(fd);
        assert_int_equal(
            safe_fs_make_folder_for(dir, base, "pipe", 0755, NOBODY, NOBODY, NULL, &created, &err),
            0);
        assert_false(created);
        /* handed back to us, and over again */
        assert_int_equal(safe_fs_make_folder_for(dir, base, "pipe", 0755, 0, 0, NULL, NULL, &err),
                         0);
        path_of(path, sizeof(path), "pipe");
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(
            safe_fs_make_folder_for(dir, base, "pipe", 0755, NOBODY, NOBODY, NULL, NULL, &err), 0);

        /* what the daemon of that user wrote goes with it */
        make_file("pipe/control.log", "log");
        path_of(path, sizeof(path), "pipe/control.log");
        assert_int_equal(chown(path, NOBODY, NOBODY), 0);
        assert_int_equal(safe_fs_remove_folder(dir, base, "pipe", &err), SAFE_FS_REMOVED);
        assert_false(exists("pipe"));

        /* nobody's folder without our marker is still nobody's */
        make_dir("planted", 0755);
        path_of(path, sizeof(path), "planted");
        assert_int_equal(chown(path, NOBODY, NOBODY), 0);
        assert_int_equal(safe_fs_open_folder(dir, base, "planted", &fd, &err), -EPERM);

        /* where others may write, nothing is handed */
        make_dir("shared", 01777);
        path_of(path, sizeof(path), "shared");
        _cleanup_close_ int shared = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(shared >= 0);
        assert_int_equal(
            safe_fs_make_folder_for(shared, path, "pipe", 0755, NOBODY, NOBODY, NULL, NULL, &err),
            -EPERM);
        assert_non_null(strstr(err.message, "others may write"));
        assert_false(exists("shared/pipe"));
}

static void test_read_file(void **state)
{
        _cleanup_close_ int dir = open_base();
        char text[8];
        make_file("pid", "4242\n");
        assert_int_equal(safe_fs_read_file(dir, "pid", text, sizeof(text)), 5);
        assert_string_equal(text, "4242\n");
        make_file("long", "0123456789");
        assert_int_equal(safe_fs_read_file(dir, "long", text, sizeof(text)), 7);
        char fifo[4096];
        path_of(fifo, sizeof(fifo), "fifo");
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(safe_fs_read_file(dir, "fifo", text, sizeof(text)), -EINVAL);
        char link[4096];
        path_of(link, sizeof(link), "link");
        assert_int_equal(symlink("pid", link), 0);
        assert_int_equal(safe_fs_read_file(dir, "link", text, sizeof(text)), -ELOOP);
        assert_int_equal(safe_fs_read_file(dir, "absent", text, sizeof(text)), -ENOENT);
        assert_int_equal(safe_fs_unlink(dir, "link"), 0);
        assert_true(exists("pid"));
        assert_int_equal(safe_fs_unlink(dir, "absent"), 0);
}

static void test_trusted_file_and_replace(void **state)
{
        _cleanup_close_ int dir = open_base();
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        char path[4096], link[4096];

        /* written with its mode exactly, whatever the umask; read back whole */
        mode_t old_umask = umask(077);
        assert_int_equal(safe_fs_replace_file(dir, "state", "one\n", 4, 0644), 0);
        umask(old_umask);
        path_of(path, sizeof(path), "state");
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(safe_fs_read_trusted_file(dir, "state", 64, &text, &size), 0);
        assert_string_equal(text, "one\n");
        assert_int_equal(size, 4);
        free(TAKE_PTR(text));
        assert_int_equal(safe_fs_read_trusted_file(dir, "state", 3, &text, &size), -EFBIG);
        assert_int_equal(safe_fs_read_trusted_file(dir, "absent", 64, &text, &size), -ENOENT);

        /* writable by the group: not trusted */
        assert_int_equal(chmod(path, 0664), 0);
        assert_int_equal(safe_fs_read_trusted_file(dir, "state", 64, &text, &size), -EPERM);

        /* a link: not followed when read, replaced (its target untouched) when written */
        make_file("target", "target\n");
        path_of(link, sizeof(link), "linked");
        assert_int_equal(symlink("target", link), 0);
        assert_int_equal(safe_fs_read_trusted_file(dir, "linked", 64, &text, &size), -EPERM);
        assert_int_equal(safe_fs_replace_file(dir, "linked", "two\n", 4, 0600), 0);
        assert_int_equal(lstat(link, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(safe_fs_read_trusted_file(dir, "target", 64, &text, &size), 0);
        assert_string_equal(text, "target\n");

        /* nothing but these files is left: no temporary */
        _cleanup_closedir_ DIR *folder = opendir(base);
        assert_non_null(folder);
        struct dirent *entry;
        while ((entry = readdir(folder)))
                assert_true(entry->d_name[0] != '.' || strcmp(entry->d_name, ".") == 0 ||
                            strcmp(entry->d_name, "..") == 0);
}

static void test_describe_owner(void **state)
{
        char text[128];
        safe_fs_describe_owner(0, text, sizeof(text));
        assert_string_equal(text, "user root (uid 0)");
        safe_fs_describe_owner(4000000, text, sizeof(text));
        assert_string_equal(text, "uid 4000000");
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            TEST(test_open_root_makes_missing_folders_with_exact_mode),
            TEST(test_open_root_refuses_bad_paths),
            TEST(test_open_root_refuses_folder_writable_by_others),
            TEST(test_open_root_refuses_a_link_others_could_plant),
            TEST(test_open_root_follows_a_link_only_root_could_make),
            TEST(test_make_folder_marks_new_folders_only),
            TEST(test_make_folder_refuses_a_planted_link),
            TEST(test_make_folder_refuses_a_file_and_an_open_folder),
            TEST(test_make_folder_refuses_another_users_folder),
            TEST(test_remove_folder_only_when_marked),
            TEST(test_remove_folder_never_follows_or_recurses),
            TEST(test_remove_folder_leaves_another_users_entry),
            TEST(test_handed_folder),
            TEST(test_read_file),
            TEST(test_trusted_file_and_replace),
            TEST(test_describe_owner),
        };
        int failed = cmocka_run_group_tests(tests, NULL, NULL);
        if (failed == 0 && skipped) {
                fprintf(stderr, "some checks need root and were skipped\n");
                return 77;
        }
        return failed;
}
