/* Functions we never call, as git's banned.h has it: each is a compile error here.
 * Included by every file of lib/, cmd/ and providers/ through the compiler's
 * -include, after the system headers' declarations are in place. */
#ifndef ML_BANNED_H
#define ML_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)		/* no bound: use ml_buf or snprintf */
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)	/* may leave no NUL */
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#undef vsprintf
#define sprintf(...) BANNED(sprintf)
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)		/* global state: use strtok_r or a parser */
#undef gmtime
#define gmtime(t) BANNED(gmtime)		/* static result: use gmtime_r */
#undef localtime
#define localtime(t) BANNED(localtime)
#undef ctime
#define ctime(t) BANNED(ctime)
#undef asctime
#define asctime(t) BANNED(asctime)
#undef atoi
#define atoi(s) BANNED(atoi)			/* no error report: use strtol */
#undef gets
#define gets(s) BANNED(gets)

#endif
