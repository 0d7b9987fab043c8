/* Included first in every file of lib/, cmd/ and providers/ (the compiler's
 * -include): the C library's declarations, then banned.h, so that a banned
 * function is a compile error wherever it is called, as git's git-compat-util.h
 * arranges it. */
#ifndef ML_COMPAT_H
#define ML_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <wchar.h>

#include "util/banned.h"

#endif
