/* unit-plan - the merge of lib/plan.c as a pure function */
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "tap.h"

static struct plan_result res;

static plan_flags
F(const char *s)
{
	return plan_flags_parse(s, strlen(s));
}

/* One UID in all three lists: the kinds planned, as a string. */
static const char *
merge1(const char *r, const char *t, const char *l, int lro, int rro)
{
	static char buf[256];
	struct plan_rmsg rm = { 1, 10, F(r), 5 };
	struct plan_tmsg tm = { 1, F(t) };
	struct plan_lmsg lm = { 1, F(l), 0 };
	struct plan_folder pf;
	char a[PLAN_FLAGS_MAX], b[PLAN_FLAGS_MAX];
	size_t i;

	memset(&pf, 0, sizeof(pf));
	pf.r = &rm;
	pf.nr = 1;
	pf.t = &tm;
	pf.nt = 1;
	pf.l = &lm;
	pf.nl = 1;
	pf.mapped = F("DFRSTa");
	pf.local_ro = lro;
	pf.remote_ro = rro;
	pf.local_deletes = pf.remote_deletes = 1;
	if (plan_merge(&pf, &res) == -1)
		return "ENOMEM";
	buf[0] = '\0';
	for (i = 0; i < res.n; i++) {
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
		    "%s%s %s>%s", i ? "; " : "", plan_kind_name(res.a[i].kind),
		    plan_flags_str(res.a[i].from & ~PLAN_ABSENT, a),
		    plan_flags_str(res.a[i].to, b));
	}
	return buf;
}

int
main(void)
{
	char buf[PLAN_FLAGS_MAX];

	is_str(plan_flags_str(F("zSa_9RA"), buf), "9ARS_az",
	    "flags sort in ASCII order");
	is_str(plan_flags_str(F("S-S:"), buf), "S", "other bytes ignored");
	is_str(merge1("S", "S", "S", 0, 0), "", "in sync");
	is_str(merge1("FS", "S", "S", 0, 0), "flags-local S>FS; status S>FS",
	    "remote change");
	is_str(merge1("S", "S", "RS", 0, 0),
	    "flags-remote S>RS; status S>RS", "local change");
	is_str(merge1("FS", "S", "", 0, 0),
	    "flags-local >F; flags-remote FS>F; status S>F",
	    "both changed, different flags: both kept");
	is_str(merge1("", "S", "S", 0, 0), "flags-local S>; status S>",
	    "same flag: the remote's change wins");
	is_str(merge1("S", "S", "PS", 0, 0), "status S>PS",
	    "unmapped letter: local only");
	is_str(merge1("S", "PS", "S", 0, 0), "status PS>S",
	    "unmapped letter removed locally: no remote change");
	is_str(merge1("FS", "S", "RS", 1, 0), "flags-remote FS>FRS; status S>RS",
	    "readonly local: the remote's change stays out of the status");
	is_str(merge1("FS", "S", "RS", 0, 1), "flags-local RS>FRS; status S>FS",
	    "readonly remote");
	{
		/* status 1..5, listed 3 (changed) and 7 (new), 2 and 4
		 * vanished: 1 3 5 7 */
		struct plan_tmsg t[5];
		struct plan_rmsg r[2];
		struct plan_range v[2] = { { 2, 2 }, { 4, 4 } };
		struct plan_folder pf;
		unsigned i;

		memset(t, 0, sizeof(t));
		memset(r, 0, sizeof(r));
		for (i = 0; i < 5; i++)
			t[i].uid = i + 1;
		r[0].uid = 3;
		r[1].uid = 7;
		memset(&pf, 0, sizeof(pf));
		pf.t = t;
		pf.nt = 5;
		pf.r = r;
		pf.nr = 2;
		pf.vanished = v;
		pf.nvanished = 2;
		pf.rmode = PLAN_CHANGED;
		ok(plan_remote_count(&pf) == 4,
		    "remote count: status and listed, less the vanished");
		pf.nt = 0;
		ok(plan_remote_count(&pf) == 2,
		    "remote count without a status: the listed ones only");
		pf.nr = 0;
		ok(plan_remote_count(&pf) == 0, "remote count of nothing");
	}
	plan_result_free(&res);
	return done_testing();
}
