/* xenstore.c - the xenstore protocol on the guest's ring, transactions and watches. */
#include "xen/xenstore.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#define HDR	    sizeof(struct xsd_sockmsg)
#define PATH_BUF    (XENSTORE_ABS_PATH_MAX + 1)
#define LOCAL_QUEUE 64 /* lodger's watch firings waiting for the request to end */

struct watch {
	char *path; /* as the guest gave it (relative or absolute) */
	char *abs;
	char *token;
};

struct txn {
	uint32_t id; /* 0: free */
	struct xs_tree tree;
	uint64_t base_gen;
	char **changed; /* absolute paths to fire on commit; a leading '-' marks a removal */
	unsigned nchanged;
};

struct local_watch {
	char *abs;
	xs_watch_fn fn;
	void *ctx;
};

struct xenstore {
	const struct guest_mem *mem;
	uint64_t ring_gpa;
	uint16_t domid;
	char prefix[32]; /* "/local/domain/<domid>" */
	xs_notify_fn notify;
	void *ctx;

	struct xs_tree tree;
	struct watch watches[XS_MAX_WATCHES];
	unsigned nwatches;
	struct txn txns[XS_MAX_TXNS];
	uint32_t next_txn;
	struct local_watch local[XS_MAX_LOCAL_WATCH];
	unsigned nlocal;
	char *queued[LOCAL_QUEUE]; /* changed paths for the local watches */
	unsigned nqueued;
	bool settling;

	uint8_t in[HDR + XENSTORE_PAYLOAD_MAX]; /* the request being read */
	size_t in_len;
	uint8_t *out; /* replies and events not yet on the ring */
	size_t out_len, out_cap;
	unsigned error; /* XENSTORE_ERROR_*: the connection is dead */

	struct xenstore_stats stats;
};

static struct xenstore_domain_interface *ring(struct xenstore *s)
{
	return GPA_PTR(s->mem, s->ring_gpa, sizeof(struct xenstore_domain_interface));
}

static const char *err_name(int err)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EIO";
}

/* --- output ------------------------------------------------------------------------- */

static bool out_append(struct xenstore *s, const void *data, size_t len)
{
	if (s->out_len + len > XS_OUT_MAX + HDR + XENSTORE_PAYLOAD_MAX)
		return false;
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		uint8_t *o;

		while (cap < s->out_len + len)
			cap *= 2;
		o = realloc(s->out, cap);
		if (!o)
			return false;
		s->out = o;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
	return true;
}

static void send_msg(struct xenstore *s, uint32_t type, uint32_t req_id, uint32_t tx_id,
		     const void *payload, uint32_t len)
{
	struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx_id, .len = len};

	if (s->out_len > XS_OUT_MAX) {
		/* a guest that never reads its replies: stop serving it */
		s->error = XENSTORE_ERROR_COMM;
		return;
	}
	if (!out_append(s, &h, HDR) || !out_append(s, payload, len))
		s->error = XENSTORE_ERROR_COMM;
}

static void send_error(struct xenstore *s, const struct xsd_sockmsg *req, int err)
{
	const char *name = err_name(err);

	s->stats.errors++;
	send_msg(s, XS_ERROR, req->req_id, req->tx_id, name, (uint32_t)strlen(name) + 1);
}

static void send_ok(struct xenstore *s, const struct xsd_sockmsg *req)
{
	send_msg(s, req->type, req->req_id, req->tx_id, "OK", 3);
}

/* Moves queued output onto the rsp ring; true when something moved. */
static bool flush_out(struct xenstore *s)
{
	struct xenstore_domain_interface *r = ring(s);
	XENSTORE_RING_IDX cons, prod;
	size_t done = 0;

	if (s->error)
		return false;
	cons = __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE);
	prod = r->rsp_prod; /* ours; the guest could scribble it, so it is checked too */
	if (prod - cons > XENSTORE_RING_SIZE) {
		s->error = XENSTORE_ERROR_RINGIDX;
		r->error = XENSTORE_ERROR_RINGIDX;
		return false;
	}
	while (done < s->out_len && prod - cons < XENSTORE_RING_SIZE) {
		size_t room = XENSTORE_RING_SIZE - (prod - cons);
		size_t to_end = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
		size_t n = s->out_len - done;

		if (n > room)
			n = room;
		if (n > to_end)
			n = to_end;
		memcpy(&r->rsp[MASK_XENSTORE_IDX(prod)], s->out + done, n);
		done += n;
		prod += (XENSTORE_RING_IDX)n;
	}
	if (!done)
		return false;
	__atomic_store_n(&r->rsp_prod, prod, __ATOMIC_RELEASE);
	memmove(s->out, s->out + done, s->out_len - done);
	s->out_len -= done;
	return true;
}

/* --- paths -------------------------------------------------------------------------- */

/* xenstored's is_valid_nodename on an absolute path. */
static bool valid_abs(const char *p)
{
	size_t len = strlen(p);

	if (p[0] != '/' || len > XENSTORE_ABS_PATH_MAX)
		return false;
	if (len > 1 && p[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '/' && p[i + 1] == '/')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '/' || c == '_' || c == '@'))
			return false;
	}
	return true;
}

/* The absolute form of a guest path into out (PATH_BUF bytes); false when invalid. */
static bool canonical(const struct xenstore *s, const char *p, char *out)
{
	if (p[0] == '@')
		return false; /* special names are for watches only */
	if (p[0] == '/') {
		if (strlen(p) >= PATH_BUF)
			return false;
		strcpy(out, p);
	} else {
		if (!p[0] || strlen(p) > XENSTORE_REL_PATH_MAX)
			return false;
		snprintf(out, PATH_BUF, "%s/%s", s->prefix, p);
	}
	return valid_abs(out);
}

/* `path` is `base` or lies below it. */
static bool at_or_below(const char *path, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(path, base, n))
		return false;
	return path[n] == 0 || path[n] == '/' || (n == 1 && base[0] == '/');
}

/* --- watches ------------------------------------------------------------------------ */

static void fire_one(struct xenstore *s, const struct watch *w, const char *abs)
{
	char buf[PATH_BUF + XENSTORE_REL_PATH_MAX + 2];
	const char *shown = abs;
	size_t plen = strlen(s->prefix), n;

	/* a relative watch hears relative paths */
	if (w->path[0] != '/' && w->path[0] != '@' && !strncmp(abs, s->prefix, plen) &&
	    abs[plen] == '/')
		shown = abs + plen + 1;
	n = (size_t)snprintf(buf, sizeof(buf), "%s%c%s", shown, 0, w->token) + 1;
	if (n > XENSTORE_PAYLOAD_MAX || s->out_len > XS_OUT_MAX / 2) {
		s->stats.events_dropped++;
		return;
	}
	s->stats.events++;
	send_msg(s, XS_WATCH_EVENT, 0, 0, buf, (uint32_t)n);
}

/* A change at abs (removed: the subtree went, so watches below it fire too). */
static void fire(struct xenstore *s, const char *abs, bool removed)
{
	for (unsigned i = 0; i < s->nwatches; i++) {
		const struct watch *w = &s->watches[i];

		if (at_or_below(abs, w->abs) || (removed && at_or_below(w->abs, abs)))
			fire_one(s, w, at_or_below(abs, w->abs) ? abs : w->abs);
	}
	for (unsigned i = 0; i < s->nlocal; i++) {
		if (!at_or_below(abs, s->local[i].abs) &&
		    !(removed && at_or_below(s->local[i].abs, abs)))
			continue;
		if (s->nqueued < LOCAL_QUEUE) {
			char *c = strdup(abs);

			if (c)
				s->queued[s->nqueued++] = c;
		}
		break; /* queued once; every matching local watch hears it in settle() */
	}
}

/* Runs lodger's watches for the queued changes, then moves output to the ring. */
static void settle(struct xenstore *s)
{
	if (s->settling)
		return;
	s->settling = true;
	while (s->nqueued) {
		char *path = s->queued[0];

		memmove(s->queued, s->queued + 1, --s->nqueued * sizeof(*s->queued));
		for (unsigned i = 0; i < s->nlocal; i++)
			if (at_or_below(path, s->local[i].abs) ||
			    at_or_below(s->local[i].abs, path))
				s->local[i].fn(s->local[i].ctx, path);
		free(path);
	}
	s->settling = false;
	if (flush_out(s) && s->notify)
		s->notify(s->ctx);
}

static void free_watch(struct watch *w)
{
	free(w->path);
	free(w->abs);
	free(w->token);
}

/* --- transactions ------------------------------------------------------------------- */

static void txn_end(struct txn *t)
{
	xs_tree_free(&t->tree);
	for (unsigned i = 0; i < t->nchanged; i++)
		free(t->changed[i]);
	free(t->changed);
	memset(t, 0, sizeof(*t));
}

static struct txn *txn_find(struct xenstore *s, uint32_t id)
{
	for (unsigned i = 0; i < XS_MAX_TXNS; i++)
		if (id && s->txns[i].id == id)
			return &s->txns[i];
	return NULL;
}

static bool txn_noted(const struct txn *t, const char *abs, bool removed)
{
	for (unsigned i = 0; i < t->nchanged; i++)
		if (t->changed[i][0] == (removed ? '-' : '+') && !strcmp(t->changed[i] + 1, abs))
			return true;
	return false;
}

/* Whether the transaction may change abs: a path it changed already, or one more under
 * xenstored's quota of nodes a transaction changes (beyond it: ENOSPC, before any change,
 * so that neither host memory nor the commit's watch events grow without bound). */
static bool txn_may_change(const struct txn *t, const char *abs, bool removed)
{
	return t->nchanged < XS_MAX_TXN_CHANGES || txn_noted(t, abs, removed);
}

/* Records a change for the commit, once per path; false when out of memory. */
static bool txn_note(struct txn *t, const char *abs, bool removed)
{
	if (txn_noted(t, abs, removed))
		return true;

	char **c = realloc(t->changed, (t->nchanged + 1) * sizeof(*c));
	char *p = malloc(strlen(abs) + 2);

	if (c)
		t->changed = c;
	if (!c || !p) {
		free(p);
		return false;
	}
	p[0] = removed ? '-' : '+';
	strcpy(p + 1, abs);
	t->changed[t->nchanged++] = p;
	return true;
}

static void reset_watches(struct xenstore *s)
{
	for (unsigned i = 0; i < s->nwatches; i++)
		free_watch(&s->watches[i]);
	s->nwatches = 0;
	for (unsigned i = 0; i < XS_MAX_TXNS; i++)
		if (s->txns[i].id)
			txn_end(&s->txns[i]);
}

/* --- requests ----------------------------------------------------------------------- */

/* The payload's NUL-separated strings; returns how many (at most max). A payload not
 * ending in NUL has its last piece in `tail` (WRITE's value), else tail is NULL. */
static unsigned split(char *payload, uint32_t len, char **str, unsigned max, char **tail,
		      uint32_t *tail_len)
{
	unsigned n = 0;
	uint32_t i = 0;

	*tail = NULL;
	*tail_len = 0;
	while (i < len && n < max) {
		char *nul = memchr(payload + i, 0, len - i);

		if (!nul) {
			*tail = payload + i;
			*tail_len = len - i;
			return n;
		}
		str[n++] = payload + i;
		i = (uint32_t)(nul - payload) + 1;
	}
	if (i < len) {
		*tail = payload + i;
		*tail_len = len - i;
	}
	return n;
}

static void do_directory(struct xenstore *s, const struct xsd_sockmsg *h, struct xs_tree *t,
			 const char *abs)
{
	const struct xs_node *n;
	char *buf;
	size_t len = 0;
	int r = xs_tree_read(t, abs, s->domid, &n);

	if (r) {
		send_error(s, h, -r);
		return;
	}
	for (unsigned i = 0; i < n->nchild; i++)
		len += strlen(n->child[i]->name) + 1;
	if (len > XENSTORE_PAYLOAD_MAX) {
		send_error(s, h, E2BIG);
		return;
	}
	buf = malloc(len ? len : 1);
	if (!buf) {
		send_error(s, h, ENOMEM);
		return;
	}
	len = 0;
	for (unsigned i = 0; i < n->nchild; i++) {
		size_t l = strlen(n->child[i]->name) + 1;

		memcpy(buf + len, n->child[i]->name, l);
		len += l;
	}
	send_msg(s, h->type, h->req_id, h->tx_id, buf, (uint32_t)len);
	free(buf);
}

static void do_get_perms(struct xenstore *s, const struct xsd_sockmsg *h, struct xs_tree *t,
			 const char *abs)
{
	const struct xs_node *n;
	char buf[XS_MAX_PERMS * 8];
	size_t len = 0;
	int r = xs_tree_read(t, abs, s->domid, &n);

	if (r) {
		send_error(s, h, -r);
		return;
	}
	for (unsigned i = 0; i < n->nperms; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%c%u", n->perms[i].perm,
					n->perms[i].dom) +
		       1;
	send_msg(s, h->type, h->req_id, h->tx_id, buf, (uint32_t)len);
}

/* "r5" -> perm; false when malformed. */
static bool parse_perm(const char *p, struct xs_perm *out)
{
	char *end;
	unsigned long dom;

	if (!strchr("nrwb", p[0]) || !p[0] || p[1] < '0' || p[1] > '9')
		return false;
	dom = strtoul(p + 1, &end, 10);
	if (*end || dom > 0xffff)
		return false;
	*out = (struct xs_perm){(uint16_t)dom, p[0]};
	return true;
}

static void do_watch(struct xenstore *s, const struct xsd_sockmsg *h, char **str, unsigned n)
{
	char abs[PATH_BUF];
	struct watch *w;

	if (n != 2) {
		send_error(s, h, EINVAL);
		return;
	}
	if (str[0][0] == '@') {
		if (strcmp(str[0], "@introduceDomain") && strcmp(str[0], "@releaseDomain")) {
			send_error(s, h, EINVAL);
			return;
		}
		strcpy(abs, str[0]);
	} else if (!canonical(s, str[0], abs)) {
		send_error(s, h, EINVAL);
		return;
	}
	for (unsigned i = 0; i < s->nwatches; i++) {
		if (!strcmp(s->watches[i].path, str[0]) && !strcmp(s->watches[i].token, str[1])) {
			send_error(s, h, EEXIST);
			return;
		}
	}
	if (s->nwatches == XS_MAX_WATCHES) {
		send_error(s, h, E2BIG);
		return;
	}
	w = &s->watches[s->nwatches];
	w->path = strdup(str[0]);
	w->abs = strdup(abs);
	w->token = strdup(str[1]);
	if (!w->path || !w->abs || !w->token) {
		free_watch(w);
		send_error(s, h, ENOMEM);
		return;
	}
	s->nwatches++;
	send_ok(s, h);
	/* xenstored fires a new watch once, with the path as given */
	fire_one(s, w, abs);
}

static void do_unwatch(struct xenstore *s, const struct xsd_sockmsg *h, char **str, unsigned n)
{
	if (n != 2) {
		send_error(s, h, EINVAL);
		return;
	}
	for (unsigned i = 0; i < s->nwatches; i++) {
		if (strcmp(s->watches[i].path, str[0]) || strcmp(s->watches[i].token, str[1]))
			continue;
		free_watch(&s->watches[i]);
		s->watches[i] = s->watches[--s->nwatches];
		send_ok(s, h);
		return;
	}
	send_error(s, h, ENOENT);
}

static void do_txn_start(struct xenstore *s, const struct xsd_sockmsg *h)
{
	char id[16];
	struct txn *t = NULL;

	if (h->tx_id) {
		send_error(s, h, EBUSY); /* no nesting */
		return;
	}
	for (unsigned i = 0; i < XS_MAX_TXNS && !t; i++)
		if (!s->txns[i].id)
			t = &s->txns[i];
	if (!t) {
		send_error(s, h, ENOSPC);
		return;
	}
	if (xs_tree_clone(&t->tree, &s->tree)) {
		send_error(s, h, ENOMEM);
		return;
	}
	do
		s->next_txn++;
	while (!s->next_txn || txn_find(s, s->next_txn));
	t->id = s->next_txn;
	t->base_gen = s->tree.gen;
	send_msg(s, h->type, h->req_id, 0, id, (uint32_t)snprintf(id, sizeof(id), "%u", t->id) + 1);
}

static void do_txn_end(struct xenstore *s, const struct xsd_sockmsg *h, char **str, unsigned n)
{
	struct txn *t = txn_find(s, h->tx_id);

	if (!t) {
		send_error(s, h, ENOENT);
		return;
	}
	if (n != 1 || (strcmp(str[0], "T") && strcmp(str[0], "F"))) {
		send_error(s, h, EINVAL);
		return;
	}
	if (!strcmp(str[0], "F")) {
		txn_end(t);
		send_ok(s, h);
		return;
	}
	if (s->tree.gen != t->base_gen) {
		txn_end(t);
		send_error(s, h, EAGAIN);
		return;
	}
	xs_tree_free(&s->tree);
	s->tree = t->tree;
	s->tree.gen = t->base_gen + 1;
	t->tree.root = NULL;
	send_ok(s, h);
	for (unsigned i = 0; i < t->nchanged; i++)
		fire(s, t->changed[i] + 1, t->changed[i][0] == '-');
	txn_end(t);
}

/* One complete request in s->in. */
static void handle(struct xenstore *s)
{
	struct xsd_sockmsg h;
	char *payload = (char *)s->in + HDR, *str[XS_MAX_PERMS + 1], *tail, abs[PATH_BUF];
	uint32_t tail_len;
	unsigned n;
	struct xs_tree *t = &s->tree;
	struct txn *txn = NULL;
	int r;

	memcpy(&h, s->in, HDR);
	s->stats.requests++;
	n = split(payload, h.len, str, XS_MAX_PERMS + 1, &tail, &tail_len);
	if (h.tx_id && h.type != XS_TRANSACTION_START) {
		txn = txn_find(s, h.tx_id);
		if (!txn) {
			send_error(s, &h, ENOENT);
			return;
		}
		t = &txn->tree;
	}
	switch (h.type) {
	case XS_READ:
	case XS_DIRECTORY:
	case XS_GET_PERMS:
	case XS_MKDIR:
	case XS_RM:
	case XS_WRITE:
	case XS_SET_PERMS:
		if (n < 1 || !canonical(s, str[0], abs)) {
			send_error(s, &h, EINVAL);
			return;
		}
		if (txn && h.type != XS_READ && h.type != XS_DIRECTORY && h.type != XS_GET_PERMS &&
		    !txn_may_change(txn, abs, h.type == XS_RM)) {
			send_error(s, &h, ENOSPC);
			return;
		}
		break;
	default:
		break;
	}
	switch (h.type) {
	case XS_READ: {
		const struct xs_node *node;

		if ((r = xs_tree_read(t, abs, s->domid, &node)))
			send_error(s, &h, -r);
		else
			send_msg(s, h.type, h.req_id, h.tx_id, node->value ? node->value : "",
				 node->len);
		return;
	}
	case XS_DIRECTORY:
		do_directory(s, &h, t, abs);
		return;
	case XS_GET_PERMS:
		do_get_perms(s, &h, t, abs);
		return;
	case XS_WRITE: {
		/* path NUL value: the value is everything after the first NUL */
		uint32_t off = (uint32_t)strlen(str[0]) + 1;

		/* xenstored's entry-size quota: what 11 copies of a full tree may weigh */
		r = h.len - off > XS_MAX_VALUE
			    ? -ENOSPC
			    : xs_tree_write(t, abs, payload + off, h.len - off, s->domid);
		goto changed;
	}
	case XS_MKDIR:
		r = xs_tree_write(t, abs, NULL, 0, s->domid);
		goto changed;
	case XS_RM:
		r = xs_tree_rm(t, abs, s->domid);
		goto changed;
	case XS_SET_PERMS: {
		struct xs_perm p[XS_MAX_PERMS];

		if (n < 2 || n > XS_MAX_PERMS + 1 || tail) {
			send_error(s, &h, EINVAL);
			return;
		}
		for (unsigned i = 1; i < n; i++) {
			if (!parse_perm(str[i], &p[i - 1])) {
				send_error(s, &h, EINVAL);
				return;
			}
		}
		r = xs_tree_set_perms(t, abs, p, n - 1, s->domid);
		goto changed;
	}
	case XS_WATCH:
		if (tail)
			n = 0;
		do_watch(s, &h, str, n);
		return;
	case XS_UNWATCH:
		if (tail)
			n = 0;
		do_unwatch(s, &h, str, n);
		return;
	case XS_TRANSACTION_START:
		do_txn_start(s, &h);
		return;
	case XS_TRANSACTION_END:
		do_txn_end(s, &h, str, tail ? 0 : n);
		return;
	case XS_GET_DOMAIN_PATH: {
		char buf[32];
		char *end;
		unsigned long dom;

		if (n != 1 || !str[0][0] || tail) {
			send_error(s, &h, EINVAL);
			return;
		}
		dom = strtoul(str[0], &end, 10);
		if (*end || dom > 0xffff) {
			send_error(s, &h, EINVAL);
			return;
		}
		send_msg(s, h.type, h.req_id, h.tx_id, buf,
			 (uint32_t)snprintf(buf, sizeof(buf), "/local/domain/%lu", dom) + 1);
		return;
	}
	case XS_IS_DOMAIN_INTRODUCED: {
		unsigned long dom = n == 1 ? strtoul(str[0], NULL, 10) : ~0UL;

		send_msg(s, h.type, h.req_id, h.tx_id, dom == 0 || dom == s->domid ? "T" : "F", 2);
		return;
	}
	case XS_RESET_WATCHES:
		reset_watches(s);
		send_ok(s, &h);
		return;
	case XS_CONTROL:
	case XS_INTRODUCE:
	case XS_RELEASE:
	case XS_SET_TARGET:
	case XS_RESUME:
		send_error(s, &h, EACCES); /* domain 0's */
		return;
	default:
		send_error(s, &h, EINVAL);
		return;
	}
changed:
	if (r) {
		send_error(s, &h, -r);
		return;
	}
	if (txn && !txn_note(txn, abs, h.type == XS_RM)) {
		send_error(s, &h, ENOMEM);
		return;
	}
	send_ok(s, &h); /* the reply goes before the events it fires */
	if (!txn)
		fire(s, abs, h.type == XS_RM);
}

void xenstore_kick(struct xenstore *s)
{
	struct xenstore_domain_interface *r = ring(s);
	bool consumed = false;

	while (!s->error) {
		XENSTORE_RING_IDX cons = r->req_cons, prod;
		size_t need, avail, n;

		prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
		if (prod - cons > XENSTORE_RING_SIZE) {
			s->error = r->error = XENSTORE_ERROR_RINGIDX;
			break;
		}
		need = s->in_len < HDR ? HDR - s->in_len : 0;
		if (!need) {
			uint32_t len;

			memcpy(&len, s->in + offsetof(struct xsd_sockmsg, len), sizeof(len));
			if (len > XENSTORE_PAYLOAD_MAX) {
				s->error = r->error = XENSTORE_ERROR_PROTO;
				break;
			}
			need = HDR + len - s->in_len;
		}
		if (need) {
			avail = prod - cons;
			if (!avail)
				break;
			n = need < avail ? need : avail;
			if (n > XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons))
				n = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
			memcpy(s->in + s->in_len, &r->req[MASK_XENSTORE_IDX(cons)], n);
			s->in_len += n;
			__atomic_store_n(&r->req_cons, cons + (XENSTORE_RING_IDX)n,
					 __ATOMIC_RELEASE);
			consumed = true;
			continue; /* the header may now tell the length */
		}
		handle(s);
		s->in_len = 0;
		settle(s);
	}
	if (flush_out(s) || consumed) {
		if (s->notify)
			s->notify(s->ctx); /* replies, or room on the request ring */
	}
}

/* --- lodger's side ------------------------------------------------------------------ */

struct xenstore *xenstore_new(const struct guest_mem *mem, uint64_t ring_gpa, uint16_t domid,
			      xs_notify_fn notify, void *ctx)
{
	struct xenstore *s = calloc(1, sizeof(*s));
	struct xenstore_domain_interface *r;

	if (!s)
		return NULL;
	s->mem = mem;
	s->ring_gpa = ring_gpa;
	s->domid = domid;
	s->notify = notify;
	s->ctx = ctx;
	snprintf(s->prefix, sizeof(s->prefix), "/local/domain/%u", domid);
	if (xs_tree_init(&s->tree)) {
		free(s);
		return NULL;
	}
	r = ring(s);
	r->server_features = XENSTORE_SERVER_FEATURE_ERROR;
	r->connection = XENSTORE_CONNECTED;
	r->error = XENSTORE_ERROR_NONE;
	return s;
}

void xenstore_free(struct xenstore *s)
{
	if (!s)
		return;
	reset_watches(s);
	for (unsigned i = 0; i < s->nlocal; i++)
		free(s->local[i].abs);
	for (unsigned i = 0; i < s->nqueued; i++)
		free(s->queued[i]);
	xs_tree_free(&s->tree);
	free(s->out);
	free(s);
}

unsigned xenstore_error(const struct xenstore *s)
{
	return s->error;
}

const struct xenstore_stats *xenstore_stats(const struct xenstore *s)
{
	return &s->stats;
}

static int local_change(struct xenstore *s, const char *path, const char *value, uint32_t len,
			bool rm)
{
	int r;

	if (!valid_abs(path))
		return -EINVAL;
	r = rm ? xs_tree_rm(&s->tree, path, 0) : xs_tree_write(&s->tree, path, value, len, 0);
	if (r)
		return r;
	fire(s, path, rm);
	settle(s);
	return 0;
}

int xenstore_write(struct xenstore *s, const char *path, const char *value)
{
	return local_change(s, path, value, (uint32_t)strlen(value), false);
}

int xenstore_printf(struct xenstore *s, const char *path, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return xenstore_write(s, path, buf);
}

int xenstore_mkdir(struct xenstore *s, const char *path)
{
	return local_change(s, path, NULL, 0, false);
}

int xenstore_rm(struct xenstore *s, const char *path)
{
	return local_change(s, path, NULL, 0, true);
}

int xenstore_read(struct xenstore *s, const char *path, char *buf, size_t len)
{
	const struct xs_node *n = xs_tree_find(&s->tree, path);
	size_t k;

	if (!n)
		return -ENOENT;
	if (!len)
		return 0;
	k = n->len < len - 1 ? n->len : len - 1;
	if (k)
		memcpy(buf, n->value, k);
	buf[k] = 0;
	return 0;
}

int xenstore_set_perms(struct xenstore *s, const char *path, const struct xs_perm *p, unsigned n)
{
	int r = xs_tree_set_perms(&s->tree, path, p, n, 0);

	if (!r) {
		fire(s, path, false);
		settle(s);
	}
	return r;
}

int xenstore_watch(struct xenstore *s, const char *path, xs_watch_fn fn, void *ctx)
{
	if (!valid_abs(path))
		return -EINVAL;
	if (s->nlocal == XS_MAX_LOCAL_WATCH)
		return -ENOSPC;
	s->local[s->nlocal].abs = strdup(path);
	if (!s->local[s->nlocal].abs)
		return -ENOMEM;
	s->local[s->nlocal].fn = fn;
	s->local[s->nlocal].ctx = ctx;
	s->nlocal++;
	return 0;
}
