/* activity: what a worker is doing right now (activity.h). */
#include "config.h"

#include <stddef.h>

#include "corad/activity.h"

static void (*hook)(const char *what, const char *detail);

void
activity_hook(void (*record)(const char *what, const char *detail))
{
	hook = record;
}

void
activity(const char *what, const char *detail)
{
	if (hook != NULL)
		hook(what, detail);
}
