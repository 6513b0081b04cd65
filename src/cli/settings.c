/* Where the command line meets the configuration file: the global --config option, loading the
 * file once per command with its refusal reported as FILE:LINE, and which of the command line,
 * the environment and the file chooses the runtime folder. */
#include <stdlib.h>

#include "cli/cli.h"
#include "node/layout.h"

static const char *config_option;

void cli_set_config_option(const char *path)
{
        config_option = path;
}

const char *cli_config_option(void)
{
        return config_option;
}

int cli_load_config(struct config **ret_config)
{
        struct error err = {0};
        if (config_load(config_option, ret_config, &err) < 0) {
                cli_report(&err);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

const char *cli_runtime_dir(const char *option, const struct config *config)
{
        const char *from_env = getenv(LAYOUT_RUNTIME_DIR_ENV);
        if (option || (from_env && from_env[0]))
                return option;
        return config && config->runtime_dir[0] ? config->runtime_dir : NULL;
}
