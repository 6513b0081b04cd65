/* Unit tests of the notify protocol: nothing sent (and no error) without $NOTIFY_SOCKET; one
 * datagram per call to a path socket and to an abstract one ('@'); a malformed variable refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/notify.h"

/* A datagram socket bound at `name` (a path, or '@' and an abstract name). */
static int listen_at(const char *name)
{
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        size_t length = strlen(name);
        memcpy(address.sun_path, name, length);
        if (name[0] == '@')
                address.sun_path[0] = '\0';
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        socklen_t size =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + (name[0] == '/'));
        assert_int_equal(bind(fd, (struct sockaddr *)&address, size), 0);
        return fd;
}

static void expect_datagram(int fd, const char *text)
{
        char buffer[512];
        ssize_t n = recv(fd, buffer, sizeof(buffer) - 1, MSG_DONTWAIT);
        assert_int_equal(n, (ssize_t)strlen(text));
        buffer[n] = '\0';
        assert_string_equal(buffer, text);
}

static void test_without_socket(void **state)
{
        (void)state;
        unsetenv("NOTIFY_SOCKET");
        struct notifier notifier;
        assert_int_equal(notifier_open(&notifier), 0);
        assert_int_equal(notifier.fd, -1);
        assert_int_equal(notifier_send(&notifier, "READY=1"), 0);
        notifier_close(&notifier);
}

static void test_path_socket(void **state)
{
        (void)state;
        char path[] = "/tmp/mpsmig-notify-test.XXXXXX";
        int dir = mkdtemp(path) ? 0 : -1;
        assert_int_equal(dir, 0);
        char name[128];
        (void)snprintf(name, sizeof(name), "%s/notify", path);
        int fd = listen_at(name);
        setenv("NOTIFY_SOCKET", name, 1);
        struct notifier notifier;
        assert_int_equal(notifier_open(&notifier), 0);
        assert_int_equal(notifier_send(&notifier, "READY=1\nSTATUS=4 of 4"), 0);
        expect_datagram(fd, "READY=1\nSTATUS=4 of 4");
        assert_int_equal(notifier_send(&notifier, "STOPPING=1"), 0);
        expect_datagram(fd, "STOPPING=1");
        notifier_close(&notifier);
        (void)close(fd);
        (void)unlink(name);
        (void)rmdir(path);
}

static void test_abstract_socket(void **state)
{
        (void)state;
        char name[64];
        (void)snprintf(name, sizeof(name), "@mpsmig-notify-test-%d", (int)getpid());
        int fd = listen_at(name);
        setenv("NOTIFY_SOCKET", name, 1);
        struct notifier notifier;
        assert_int_equal(notifier_open(&notifier), 0);
        assert_int_equal(notifier_send(&notifier, "RELOADING=1"), 0);
        expect_datagram(fd, "RELOADING=1");
        notifier_close(&notifier);
        (void)close(fd);
}

static void test_malformed(void **state)
{
        (void)state;
        struct notifier notifier;
        setenv("NOTIFY_SOCKET", "relative/path", 1);
        assert_int_equal(notifier_open(&notifier), -EINVAL);
        char long_name[200];
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[0] = '/';
        long_name[sizeof(long_name) - 1] = '\0';
        setenv("NOTIFY_SOCKET", long_name, 1);
        assert_int_equal(notifier_open(&notifier), -EINVAL);
        unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_without_socket),
            cmocka_unit_test(test_path_socket),
            cmocka_unit_test(test_abstract_socket),
            cmocka_unit_test(test_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
