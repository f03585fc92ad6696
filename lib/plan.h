/*
 * plan.h - the three-way merge of one folder, as a pure function: the
 * remote messages (R), the local messages (L) and the status (T), each
 * sorted by UID, give the actions that bring both sides and the status to
 * agreement, OfflineIMAP's way (../shared/reference/offlineimap.md 4.6 to
 * 4.8), with the refusals to guess where an input does not say.  No I/O:
 * sync-plan(1) reads the inputs and prints the actions.
 */
#ifndef OI_PLAN_H
#define OI_PLAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * A set of Maildir flag letters ([0-9A-Z_a-z]) as bits in ASCII order, so
 * that walking the bits upwards gives OfflineIMAP's sorted flag string.
 */
typedef uint64_t plan_flags;

#define PLAN_FLAGS_MAX	64	/* a flag string's size, NUL included */
#define PLAN_ABSENT	((plan_flags)1 << 63)	/* not a letter: no entry */

/* The letters of s (n bytes); other bytes are ignored. */
plan_flags plan_flags_parse(const char *s, size_t n);
/* The sorted letters of f into buf (PLAN_FLAGS_MAX bytes); returns buf. */
char	*plan_flags_str(plan_flags f, char *buf);
/* The bit of one letter, 0 if it is none. */
plan_flags plan_flag(int c);

enum plan_mode {
	PLAN_FULL,	/* every message is listed: one not listed is gone */
	PLAN_CHANGED,	/* incremental: one not listed is unchanged */
	PLAN_WINDOW	/* maxage/maxsize: one not listed is outside */
};

struct plan_rmsg {
	uint32_t	 uid;
	uint32_t	 size;
	plan_flags	 flags;		/* IMAP flags as letters */
	uint64_t	 modseq;
};

struct plan_lmsg {
	uint32_t	 uid;		/* 0: new here (no UID of ours) */
	plan_flags	 flags;
	size_t		 ref;		/* the caller's (the file's path) */
};

struct plan_tmsg {
	uint32_t	 uid;
	plan_flags	 flags;
};

struct plan_range {
	uint32_t	 lo, hi;
};

struct plan_folder {
	const struct plan_rmsg	*r;	/* ascending UIDs */
	size_t			 nr;
	enum plan_mode		 rmode;
	const struct plan_range	*vanished;	/* sorted, disjoint */
	size_t			 nvanished;
	const struct plan_lmsg	*l;	/* ascending UIDs, then the new ones */
	size_t			 nl;
	enum plan_mode		 lmode;	/* PLAN_FULL or PLAN_WINDOW */
	const struct plan_tmsg	*t;	/* ascending UIDs */
	size_t			 nt;
	plan_flags		 mapped;	/* letters with an IMAP meaning */
	int			 local_ro, remote_ro;
	int			 local_deletes;	/* local sync_deletes */
	int			 remote_deletes; /* remote sync_deletes */
};

enum plan_kind {
	PK_FETCH,		/* uid, to: R's flags; ri */
	PK_UPLOAD,		/* uid (0: new), to: L's flags; li */
	PK_FLAGS_LOCAL,		/* uid, from -> to; li */
	PK_FLAGS_REMOTE,	/* uid, from -> to (mapped letters); ri */
	PK_DELETE_LOCAL,	/* uid, from: L's flags; li */
	PK_DELETE_REMOTE,	/* uid, from: R's flags; ri */
	PK_STATUS,		/* uid, from: T's (PLAN_ABSENT), to: agreed */
	PK_FORGET,		/* uid, from: T's flags */
	PK_SKIP,		/* uid, why: nothing can be decided */
	PK_NKINDS
};

enum plan_skip {
	PS_DUPLICATE = 1,	/* several local files hold the UID */
	PS_UNKNOWN_REMOTE	/* not in an incremental or window listing */
};

struct plan_action {
	enum plan_kind	 kind;
	uint32_t	 uid;
	int		 why;		/* PK_SKIP: enum plan_skip */
	plan_flags	 from, to;
	long		 ri, li;	/* index into r and l, -1 if none */
};

struct plan_result {
	struct plan_action	*a;
	size_t			 n, cap;
	size_t			 count[PK_NKINDS];
	uint32_t		 lowest;	/* window: UIDs below are unseen */
};

/*
 * Merge one folder: actions in ascending UID order (a UID's actions
 * together, status last), then the uploads of new local messages in
 * their order in l.  res must be zeroed or reset; -1 when out of memory.
 */
int	 plan_merge(const struct plan_folder *, struct plan_result *res);
/*
 * The server's messages an incremental (PLAN_CHANGED) listing implies:
 * the status UIDs and the listed ones, less the vanished.  After a
 * complete sync it is the folder's EXISTS; when it is not, the status was
 * changed or removed since, and the listing does not say enough.
 */
size_t	 plan_remote_count(const struct plan_folder *);
void	 plan_result_reset(struct plan_result *);
void	 plan_result_free(struct plan_result *);
/* "fetch", "flags-local", ... as in sync-plan(1). */
const char *plan_kind_name(enum plan_kind);

#endif
