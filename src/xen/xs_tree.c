/* xs_tree.c - the xenstore tree, its permissions and its copies. */
#include "xen/xs_tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct xs_node *node_new(const char *name, size_t name_len)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, name_len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	return n;
}

static void node_free(struct xs_node *n)
{
	if (!n)
		return;
	for (unsigned i = 0; i < n->nchild; i++)
		node_free(n->child[i]);
	free(n->child);
	free(n->name);
	free(n->value);
	free(n);
}

/* Nodes in the subtree at n. */
static unsigned count(const struct xs_node *n)
{
	unsigned c = 1;

	for (unsigned i = 0; i < n->nchild; i++)
		c += count(n->child[i]);
	return c;
}

int xs_tree_init(struct xs_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->root = node_new("", 0);
	if (!t->root)
		return -ENOMEM;
	t->root->perms[0] = (struct xs_perm){0, 'n'};
	t->root->nperms = 1;
	t->nodes = 1;
	return 0;
}

void xs_tree_free(struct xs_tree *t)
{
	node_free(t->root);
	t->root = NULL;
	t->nodes = 0;
}

static struct xs_node *node_clone(const struct xs_node *s, struct xs_node *parent)
{
	struct xs_node *n = node_new(s->name, strlen(s->name));

	if (!n)
		return NULL;
	n->parent = parent;
	memcpy(n->perms, s->perms, sizeof(n->perms));
	n->nperms = s->nperms;
	if (s->value) {
		n->value = malloc(s->len ? s->len : 1);
		if (!n->value)
			goto fail;
		memcpy(n->value, s->value, s->len);
		n->len = s->len;
	}
	if (s->nchild) {
		n->child = calloc(s->nchild, sizeof(*n->child));
		if (!n->child)
			goto fail;
		n->cap = s->nchild;
		for (unsigned i = 0; i < s->nchild; i++) {
			n->child[i] = node_clone(s->child[i], n);
			if (!n->child[i])
				goto fail;
			n->nchild++;
		}
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

int xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src)
{
	*dst = *src;
	dst->root = node_clone(src->root, NULL);
	if (!dst->root) {
		dst->nodes = 0;
		return -ENOMEM;
	}
	return 0;
}

static struct xs_node *child_of(const struct xs_node *n, const char *name, size_t len)
{
	for (unsigned i = 0; i < n->nchild; i++)
		if (strlen(n->child[i]->name) == len && !memcmp(n->child[i]->name, name, len))
			return n->child[i];
	return NULL;
}

/* Walks the path as far as it exists: the deepest node, and in *rest what is left
 * ("" when the node itself exists). */
static struct xs_node *walk(const struct xs_tree *t, const char *path, const char **rest)
{
	struct xs_node *n = t->root;
	const char *p = path;

	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct xs_node *c = child_of(n, p, len);

		if (!c)
			break;
		n = c;
		p += len;
		while (*p == '/')
			p++;
	}
	*rest = p;
	return n;
}

struct xs_node *xs_tree_find(const struct xs_tree *t, const char *path)
{
	const char *rest;
	struct xs_node *n = walk(t, path, &rest);

	return *rest ? NULL : n;
}

static char perm_of(const struct xs_node *n, uint16_t dom)
{
	if (dom == 0 || n->perms[0].dom == dom)
		return 'b';
	for (unsigned i = 1; i < n->nperms; i++)
		if (n->perms[i].dom == dom)
			return n->perms[i].perm;
	return n->perms[0].perm;
}

bool xs_can_read(const struct xs_node *n, uint16_t dom)
{
	char p = perm_of(n, dom);

	return p == 'r' || p == 'b';
}

bool xs_can_write(const struct xs_node *n, uint16_t dom)
{
	char p = perm_of(n, dom);

	return p == 'w' || p == 'b';
}

int xs_tree_read(const struct xs_tree *t, const char *path, uint16_t dom,
		 const struct xs_node **out)
{
	const struct xs_node *n = xs_tree_find(t, path);

	if (!n)
		return -ENOENT;
	if (!xs_can_read(n, dom))
		return -EACCES;
	*out = n;
	return 0;
}

static int add_child(struct xs_node *parent, struct xs_node *c)
{
	if (parent->nchild == parent->cap) {
		unsigned cap = parent->cap ? parent->cap * 2 : 4;
		struct xs_node **a = realloc(parent->child, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		parent->child = a;
		parent->cap = cap;
	}
	parent->child[parent->nchild++] = c;
	c->parent = parent;
	return 0;
}

static int set_value(struct xs_node *n, const char *value, uint32_t len)
{
	char *v = malloc(len ? len : 1);

	if (!v)
		return -ENOMEM;
	memcpy(v, value, len);
	free(n->value);
	n->value = v;
	n->len = len;
	return 0;
}

int xs_tree_write(struct xs_tree *t, const char *path, const char *value, uint32_t len,
		  uint16_t dom)
{
	const char *rest;
	struct xs_node *n = walk(t, path, &rest);
	unsigned need = 0;
	int r;

	if (!xs_can_write(n, dom))
		return -EACCES;
	for (const char *p = rest; *p;) { /* the components still missing */
		need++;
		p = strchr(p, '/');
		if (!p)
			break;
		while (*p == '/')
			p++;
	}
	if (t->nodes + need > XS_MAX_NODES)
		return -ENOSPC;
	while (*rest) {
		const char *end = strchr(rest, '/');
		size_t l = end ? (size_t)(end - rest) : strlen(rest);
		struct xs_node *c = node_new(rest, l);

		if (!c)
			return -ENOMEM;
		memcpy(c->perms, n->perms, sizeof(c->perms));
		c->nperms = n->nperms;
		if (dom != 0)
			c->perms[0].dom = dom; /* an unprivileged creator owns it */
		if ((r = add_child(n, c))) {
			node_free(c);
			return r;
		}
		t->nodes++;
		n = c;
		rest += l;
		while (*rest == '/')
			rest++;
	}
	if (value && (r = set_value(n, value, len)))
		return r;
	t->gen++;
	return 0;
}

int xs_tree_rm(struct xs_tree *t, const char *path, uint16_t dom)
{
	const char *rest;
	struct xs_node *n = walk(t, path, &rest), *p;

	if (*rest) {
		/* missing: fine if only the last component is */
		return strchr(rest, '/') ? -ENOENT : 0;
	}
	if (n == t->root)
		return -EINVAL;
	if (!xs_can_write(n, dom))
		return -EACCES;
	p = n->parent;
	for (unsigned i = 0; i < p->nchild; i++) {
		if (p->child[i] != n)
			continue;
		memmove(&p->child[i], &p->child[i + 1], (p->nchild - i - 1) * sizeof(*p->child));
		p->nchild--;
		break;
	}
	t->nodes -= count(n);
	node_free(n);
	t->gen++;
	return 0;
}

int xs_tree_set_perms(struct xs_tree *t, const char *path, const struct xs_perm *p, unsigned np,
		      uint16_t dom)
{
	struct xs_node *n = xs_tree_find(t, path);

	if (!n)
		return -ENOENT;
	if (!np || np > XS_MAX_PERMS)
		return -EINVAL;
	if (dom != 0 && n->perms[0].dom != dom)
		return -EACCES;
	if (dom != 0 && p[0].dom != dom)
		return -EPERM;
	memcpy(n->perms, p, np * sizeof(*p));
	n->nperms = np;
	t->gen++;
	return 0;
}
