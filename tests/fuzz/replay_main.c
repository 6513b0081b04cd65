/* Replays a fuzz target's corpus: every regular file under the folders named on the command line
 * goes through LLVMFuzzerTestOneInput once, so each test run re-checks what fuzzing found. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
        FILE *f = fopen(path, "rbe");
        if (!f) {
                fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t capacity = 4096, size = 0;
        uint8_t *data = malloc(capacity);
        size_t n;
        while (data && (n = fread(data + size, 1, capacity - size, f)) > 0) {
                size += n;
                if (size == capacity) {
                        uint8_t *bigger = realloc(data, capacity * 2);
                        if (!bigger) {
                                free(data);
                                data = NULL;
                                break;
                        }
                        data = bigger;
                        capacity *= 2;
                }
        }
        fclose(f);
        if (!data) {
                fprintf(stderr, "replay: out of memory reading %s\n", path);
                return -1;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        return 0;
}

static int replay_dir(const char *dir, unsigned *count)
{
        DIR *d = opendir(dir);
        if (!d) {
                fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
                return -1;
        }
        int r = 0;
        struct dirent *entry;
        while ((entry = readdir(d))) {
                char path[4096];
                struct stat st;
                if (entry->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (replay_file(path) < 0)
                        r = -1;
                (*count)++;
        }
        closedir(d);
        return r;
}

int main(int argc, char **argv)
{
        unsigned count = 0;
        int r = 0;
        for (int i = 1; i < argc; i++)
                if (replay_dir(argv[i], &count) < 0)
                        r = 1;
        if (count == 0) {
                fprintf(stderr, "replay: no corpus files found\n");
                return 1;
        }
        printf("replay: %u inputs, no crash\n", count);
        return r;
}
