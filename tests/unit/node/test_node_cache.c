/* The node cache: a node written and read back field for field, every malformed text refused
 * (bad JSON, another schema, a missing or mistyped field, a string too long, ranges that do not
 * fit), a lost GPU never written (a node with one removes the cache) but handed over marked by
 * the _with_lost pair, and the file: 0644 whatever the umask, not rewritten when
 * unchanged, a planted link replaced and never followed, untrusted files not read. */
#define _GNU_SOURCE
#include <dirent.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "node/node_cache.h"

static char base[1024];
static int base_fd = -1;

static int setup(void **state)
{
        (void)snprintf(base, sizeof(base), "%s/node_cache.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(base) || chmod(base, 0755) < 0)
                return -1;
        base_fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return base_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
        char command[1200];
        (void)close(base_fd);
        (void)snprintf(command, sizeof(command), "rm -rf '%s'", base);
        return system(command) == 0 ? 0 : -1;
}

/* Two GPUs: one with MIG and two MIG devices, one whole; values that fill every field. */
static struct node *sample(void)
{
        struct node *node = calloc(1, sizeof(*node));
        assert_non_null(node);
        node->gpus = calloc(2, sizeof(*node->gpus));
        node->mig_devices = calloc(2, sizeof(*node->mig_devices));
        assert_non_null(node->gpus);
        assert_non_null(node->mig_devices);
        snprintf(node->driver_version, sizeof(node->driver_version), "580.159.04");
        node->cuda_driver_version = 13000;
        node->gpu_count = 2;
        node->mig_device_count = 2;
        node->gpus[0] = (struct gpu){.index = 0,
                                     .uuid = "GPU-3adeb2ef-e96c-4b23-bd28-a1d5296489da",
                                     .name = "NVIDIA H100 80GB HBM3",
                                     .mig_current = MIG_MODE_ENABLED,
                                     .mig_pending = MIG_MODE_DISABLED,
                                     .memory_bytes = 85520809984ULL,
                                     .sm_count = 132,
                                     .compute_mode = COMPUTE_MODE_EXCLUSIVE_PROCESS,
                                     .first_mig_device = 0,
                                     .mig_device_count = 2};
        node->gpus[1] = (struct gpu){.index = 1,
                                     .uuid = "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38",
                                     .name = "NVIDIA A30",
                                     .mig_current = MIG_MODE_UNSUPPORTED,
                                     .mig_pending = MIG_MODE_UNSUPPORTED,
                                     .compute_mode = COMPUTE_MODE_UNKNOWN,
                                     .first_mig_device = 2};
        node->mig_devices[0] =
            (struct mig_device){.gpu_index = 0,
                                .device_index = 0,
                                .gpu_instance_id = 7,
                                .compute_instance_id = 0,
                                .uuid = "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
                                .profile = "1g.10gb",
                                .sm_count = 16,
                                .memory_bytes = 10ULL << 30};
        node->mig_devices[1] =
            (struct mig_device){.gpu_index = 0,
                                .device_index = 1,
                                .gpu_instance_id = 9,
                                .compute_instance_id = 1,
                                .uuid = "MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9",
                                .profile = "1c.2g.20gb",
                                .sm_count = 14,
                                .memory_bytes = 20ULL << 30};
        return node;
}

static void assert_same_node(const struct node *a, const struct node *b)
{
        assert_string_equal(a->driver_version, b->driver_version);
        assert_int_equal(a->cuda_driver_version, b->cuda_driver_version);
        assert_int_equal(a->gpu_count, b->gpu_count);
        assert_int_equal(a->mig_device_count, b->mig_device_count);
        for (size_t i = 0; i < a->gpu_count; i++) {
                const struct gpu *x = &a->gpus[i], *y = &b->gpus[i];
                assert_int_equal(x->index, y->index);
                assert_string_equal(x->uuid, y->uuid);
                assert_string_equal(x->name, y->name);
                assert_int_equal(x->mig_current, y->mig_current);
                assert_int_equal(x->mig_pending, y->mig_pending);
                assert_int_equal(x->memory_bytes, y->memory_bytes);
                assert_int_equal(x->sm_count, y->sm_count);
                assert_int_equal(x->compute_mode, y->compute_mode);
                assert_int_equal(x->first_mig_device, y->first_mig_device);
                assert_int_equal(x->mig_device_count, y->mig_device_count);
                assert_false(y->lost);
        }
        for (size_t i = 0; i < a->mig_device_count; i++) {
                const struct mig_device *x = &a->mig_devices[i], *y = &b->mig_devices[i];
                assert_int_equal(x->gpu_index, y->gpu_index);
                assert_int_equal(x->device_index, y->device_index);
                assert_int_equal(x->gpu_instance_id, y->gpu_instance_id);
                assert_int_equal(x->compute_instance_id, y->compute_instance_id);
                assert_string_equal(x->uuid, y->uuid);
                assert_string_equal(x->profile, y->profile);
                assert_int_equal(x->sm_count, y->sm_count);
                assert_int_equal(x->memory_bytes, y->memory_bytes);
        }
}

static void test_round_trip(void **state)
{
        _cleanup_node_ struct node *node = sample();
        _cleanup_free_ char *text = NULL;
        assert_int_equal(node_cache_format(node, &text), 0);
        assert_int_equal(strchr(text, '\n') - text, (long)strlen(text) - 1); /* one line */
        _cleanup_node_ struct node *back = NULL;
        assert_int_equal(node_cache_parse(text, strlen(text), &back), 0);
        assert_same_node(node, back);

        _cleanup_node_ struct node *empty = calloc(1, sizeof(*empty));
        _cleanup_free_ char *empty_text = NULL;
        _cleanup_node_ struct node *empty_back = NULL;
        assert_int_equal(node_cache_format(empty, &empty_text), 0);
        assert_int_equal(node_cache_parse(empty_text, strlen(empty_text), &empty_back), 0);
        assert_int_equal(empty_back->gpu_count + empty_back->mig_device_count, 0);
}

static void test_lost_gpu_not_written(void **state)
{
        _cleanup_node_ struct node *node = sample();
        node->gpus[1].lost = true;
        node->lost_gpu_count = 1;
        char *text = NULL;
        assert_int_equal(node_cache_format(node, &text), -EINVAL);
        assert_null(text);
}

/* start's NVML child hands a lost GPU over marked, with its reason and bus id; the file parser
 * refuses that text, so a cache never names a lost GPU. */
static void test_lost_gpu_handed_over(void **state)
{
        _cleanup_node_ struct node *node = sample();
        assert_int_equal(node->gpus[1].mig_device_count, 0);
        node->gpus[1].lost = true;
        snprintf(node->gpus[1].lost_reason, sizeof(node->gpus[1].lost_reason),
                 "nvmlDeviceGetHandleByIndex(GPU 1): GPU is lost");
        snprintf(node->gpus[1].pci_bus_id, sizeof(node->gpus[1].pci_bus_id), "00000000:2A:00.0");
        node->lost_gpu_count = 1;
        _cleanup_free_ char *text = NULL;
        assert_int_equal(node_cache_format_with_lost(node, &text), 0);
        _cleanup_node_ struct node *back = NULL;
        assert_int_equal(node_cache_parse_with_lost(text, strlen(text), &back), 0);
        assert_int_equal(back->lost_gpu_count, 1);
        assert_false(back->gpus[0].lost);
        assert_true(back->gpus[1].lost);
        assert_string_equal(back->gpus[1].lost_reason, node->gpus[1].lost_reason);
        assert_string_equal(back->gpus[1].pci_bus_id, "00000000:2A:00.0");
        _cleanup_node_ struct node *from_file = NULL;
        assert_int_equal(node_cache_parse(text, strlen(text), &from_file), -EBADMSG);
        assert_null(from_file);
}

/* A start that saw a lost GPU removes the cache: the next start reads NVML first. */
static void test_lost_gpu_removes_cache(void **state)
{
        _cleanup_node_ struct node *node = sample();
        struct error err = {0};
        assert_int_equal(node_cache_write(base_fd, base, node, &err), 0);
        assert_int_equal(faccessat(base_fd, NODE_CACHE_FILE, F_OK, 0), 0);
        node->gpus[1].lost = true;
        node->lost_gpu_count = 1;
        assert_int_equal(node_cache_write(base_fd, base, node, &err), 0);
        assert_int_equal(faccessat(base_fd, NODE_CACHE_FILE, F_OK, 0), -1);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(node_cache_write(base_fd, base, node, &err), 0); /* none: still fine */
}

/* The sample's text with `from` replaced by `to` (once), parsed. */
static int parse_edited(const char *from, const char *to)
{
        _cleanup_node_ struct node *node = sample();
        _cleanup_free_ char *text = NULL;
        assert_int_equal(node_cache_format(node, &text), 0);
        char *at = strstr(text, from);
        assert_non_null(at);
        char edited[8192];
        snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        _cleanup_node_ struct node *back = NULL;
        int r = node_cache_parse(edited, strlen(edited), &back);
        if (r == 0)
                assert_non_null(back);
        else
                assert_null(back);
        return r;
}

static void test_malformed(void **state)
{
        struct node *node = NULL;
        static const char *const texts[] = {
            "",
            "not json",
            "[]",
            "{}",
            "{\"schema\":1}",
            "{\"schema\":2,\"driver_version\":\"1\",\"cuda_driver_version\":0,\"gpus\":[],"
            "\"mig_devices\":[]}",
            "{\"schema\":1,\"schema\":1,\"driver_version\":\"1\",\"cuda_driver_version\":0,"
            "\"gpus\":[],\"mig_devices\":[]}",
            "{\"schema\":1,\"driver_version\":\"1\",\"cuda_driver_version\":0,\"gpus\":{},"
            "\"mig_devices\":[]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                assert_int_equal(node_cache_parse(texts[i], strlen(texts[i]), &node), -EBADMSG);
                assert_null(node);
        }

        /* the unedited sample parses: each edit below is what breaks it */
        assert_int_equal(parse_edited("\"schema\":1", "\"schema\":1"), 0);
        assert_int_equal(parse_edited("\"index\":1", "\"index\":5"), -EBADMSG);
        assert_int_equal(parse_edited("\"mig_current\":1", "\"mig_current\":4"), -EBADMSG);
        assert_int_equal(parse_edited("\"compute_mode\":3", "\"compute_mode\":9"), -EBADMSG);
        assert_int_equal(parse_edited("\"sm_count\":132", "\"sm_count\":-1"), -EBADMSG);
        assert_int_equal(parse_edited("\"sm_count\":132", "\"sm_count\":\"132\""), -EBADMSG);
        assert_int_equal(parse_edited("\"name\":\"NVIDIA A30\",", ""), -EBADMSG);
        assert_int_equal(parse_edited("\"mig_device_count\":2", "\"mig_device_count\":3"),
                         -EBADMSG);
        assert_int_equal(parse_edited("\"first_mig_device\":2", "\"first_mig_device\":1"),
                         -EBADMSG);
        assert_int_equal(parse_edited("\"gpu_index\":0,\"gpu_instance_id\":9",
                                      "\"gpu_index\":1,\"gpu_instance_id\":9"),
                         -EBADMSG);
        char long_uuid[200];
        memset(long_uuid, 'a', sizeof(long_uuid));
        memcpy(long_uuid, "\"uuid\":\"MIG-", 12);
        memcpy(long_uuid + sizeof(long_uuid) - 2, "\"", 2);
        assert_int_equal(
            parse_edited("\"uuid\":\"MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0\"", long_uuid),
            -EBADMSG);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", base, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        assert_int_equal(close(fd), 0);
}

static struct stat stat_cache(void)
{
        char path[1200];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", base, NODE_CACHE_FILE);
        assert_int_equal(lstat(path, &st), 0);
        return st;
}

static void test_write_and_read(void **state)
{
        _cleanup_node_ struct node *node = sample();
        _cleanup_node_ struct node *back = NULL;
        struct error err = {0};
        assert_int_equal(node_cache_read(base_fd, &back), -ENOENT);

        mode_t old_umask = umask(077);
        assert_int_equal(node_cache_write(base_fd, base, node, &err), 0);
        umask(old_umask);
        struct stat first = stat_cache();
        assert_true(S_ISREG(first.st_mode));
        assert_int_equal(first.st_mode & 07777, 0644);
        assert_int_equal(node_cache_read(base_fd, &back), 0);
        assert_same_node(node, back);

        /* unchanged: the same file; changed: a new one */
        assert_int_equal(node_cache_write(base_fd, base, node, &err), 0);
        assert_int_equal(stat_cache().st_ino, first.st_ino);
        node->gpus[1].sm_count = 56;
        assert_int_equal(node_cache_write(base_fd, base, node, &err), 0);
        assert_int_not_equal(stat_cache().st_ino, first.st_ino);
        node_free(TAKE_PTR(back));
        assert_int_equal(node_cache_read(base_fd, &back), 0);
        assert_int_equal(back->gpus[1].sm_count, 56);

        /* no temporary left beside it */
        DIR *folder = opendir(base);
        assert_non_null(folder);
        struct dirent *entry;
        while ((entry = readdir(folder)))
                if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
                        assert_string_equal(entry->d_name, NODE_CACHE_FILE);
        closedir(folder);
}

static void test_untrusted_files(void **state)
{
        _cleanup_node_ struct node *node = sample();
        _cleanup_free_ char *text = NULL;
        struct node *back = NULL;
        struct error err = {0};
        assert_int_equal(node_cache_format(node, &text), 0);

        write_file(NODE_CACHE_FILE, text, 0664);
        assert_int_equal(node_cache_read(base_fd, &back), -EPERM);
        write_file(NODE_CACHE_FILE, text, 0646);
        assert_int_equal(node_cache_read(base_fd, &back), -EPERM);

        /* a link to a good cache: not followed, and replaced (its target untouched) by a write */
        char link_path[1200], target_path[1200];
        write_file("elsewhere.json", text, 0644);
        snprintf(link_path, sizeof(link_path), "%s/%s", base, NODE_CACHE_FILE);
        snprintf(target_path, sizeof(target_path), "%s/elsewhere.json", base);
        assert_int_equal(unlink(link_path), 0);
        assert_int_equal(symlink(target_path, link_path), 0);
        assert_int_equal(node_cache_read(base_fd, &back), -EPERM);
        node->gpus[0].sm_count = 1;
        assert_int_equal(node_cache_write(base_fd, base, node, &err), 0);
        assert_true(S_ISREG(stat_cache().st_mode));
        _cleanup_node_ struct node *target = NULL;
        _cleanup_free_ char *target_text = malloc(NODE_CACHE_MAX_BYTES);
        FILE *f = fopen(target_path, "r");
        assert_non_null(f);
        size_t n = fread(target_text, 1, NODE_CACHE_MAX_BYTES - 1, f);
        fclose(f);
        assert_int_equal(node_cache_parse(target_text, n, &target), 0);
        assert_int_equal(target->gpus[0].sm_count, 132);

        /* a fifo under the name does not hang the read */
        assert_int_equal(unlink(link_path), 0);
        assert_int_equal(mkfifo(link_path, 0644), 0);
        assert_int_equal(node_cache_read(base_fd, &back), -EPERM);
        assert_int_equal(unlink(link_path), 0);

        /* too big to be a cache */
        char *big = malloc(NODE_CACHE_MAX_BYTES + 2);
        assert_non_null(big);
        memset(big, ' ', NODE_CACHE_MAX_BYTES + 1);
        big[NODE_CACHE_MAX_BYTES + 1] = '\0';
        write_file(NODE_CACHE_FILE, big, 0644);
        free(big);
        assert_int_equal(node_cache_read(base_fd, &back), -EFBIG);

        if (geteuid() == 0) { /* another user's file */
                write_file(NODE_CACHE_FILE, text, 0644);
                assert_int_equal(lchown(link_path, 65534, 65534), 0);
                assert_int_equal(node_cache_read(base_fd, &back), -EPERM);
        }
        assert_null(back);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            TEST(test_round_trip),
            TEST(test_lost_gpu_not_written),
            TEST(test_malformed),
            TEST(test_write_and_read),
            TEST(test_untrusted_files),
            TEST(test_lost_gpu_handed_over),
            TEST(test_lost_gpu_removes_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
