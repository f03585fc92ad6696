/* tap.h - a tiny TAP producer for the C unit tests of lib/ */
#ifndef OI_TAP_H
#define OI_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

#define is_str(got, want, ...) tap_is_str_((got), (want), __VA_ARGS__)
static int __attribute__((unused, format(printf, 3, 4)))
tap_is_str_(const char *got, const char *want, const char *fmt, ...)
{
	int cond = got && want ? strcmp(got, want) == 0 : got == want;
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond) {
		tap_failed++;
		printf("#   got:  '%s'\n#   want: '%s'\n", got ? got : "(null)",
		    want ? want : "(null)");
	}
	fflush(stdout);
	return cond;
}

#define is_int(got, want, ...) tap_is_int_((long long)(got), \
    (long long)(want), __VA_ARGS__)
static int __attribute__((unused, format(printf, 3, 4)))
tap_is_int_(long long got, long long want, const char *fmt, ...)
{
	int cond = got == want;
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond) {
		tap_failed++;
		printf("#   got:  %lld\n#   want: %lld\n", got, want);
	}
	fflush(stdout);
	return cond;
}

static int __attribute__((unused))
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
