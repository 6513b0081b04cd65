/* The error value shared by every layer; see error.h. */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int error_set(struct error *err, int code, const char *format, ...)
{
        if (!err)
                return code;
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(err->message, sizeof(err->message), format, ap);
        va_end(ap);
        err->code = code;
        return code;
}

int error_prefix(struct error *err, const char *format, ...)
{
        if (!err)
                return 0;
        char prefix[sizeof(err->message)];
        char old[sizeof(err->message)];
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(prefix, sizeof(prefix), format, ap);
        va_end(ap);
        memcpy(old, err->message, sizeof(old));
        (void)snprintf(err->message, sizeof(err->message), "%s: %s", prefix, old);
        return err->code;
}

void error_clear(struct error *err)
{
        if (!err)
                return;
        err->code = 0;
        err->message[0] = '\0';
}
