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
        err->hint = ERROR_HINT_NONE;
        err->hint_target[0] = '\0';
        return code;
}

int error_hint(struct error *err, enum error_hint hint)
{
        if (!err)
                return 0;
        err->hint = hint;
        err->hint_target[0] = '\0';
        return err->code;
}

int error_hint_on(struct error *err, enum error_hint hint, const char *target)
{
        if (!err)
                return 0;
        err->hint = hint;
        (void)snprintf(err->hint_target, sizeof(err->hint_target), "%s", target ? target : "");
        return err->code;
}

int error_prefix(struct error *err, const char *format, ...)
{
        if (!err)
                return 0;
        char joined[sizeof(err->message)];
        va_list ap;
        va_start(ap, format);
        int n = vsnprintf(joined, sizeof(joined), format, ap);
        va_end(ap);
        size_t used = n < 0 ? 0 : (size_t)n < sizeof(joined) ? (size_t)n : sizeof(joined) - 1;
        /* The message is cut, not the prefix, when both do not fit. */
        const char separator[] = ": ";
        size_t room = sizeof(joined) - 1 - used;
        size_t add = strlen(separator) < room ? strlen(separator) : room;
        memcpy(joined + used, separator, add);
        used += add;
        room = sizeof(joined) - 1 - used;
        add = strnlen(err->message, sizeof(err->message));
        if (add > room)
                add = room;
        memcpy(joined + used, err->message, add);
        joined[used + add] = '\0';
        memcpy(err->message, joined, sizeof(joined));
        return err->code;
}

void error_clear(struct error *err)
{
        if (!err)
                return;
        err->code = 0;
        err->hint = ERROR_HINT_NONE;
        err->hint_target[0] = '\0';
        err->message[0] = '\0';
}
