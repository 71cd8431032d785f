/*
 * xs_tree.h - the xenstore tree: nodes with a value and permissions, as xenstored keeps
 * them (Xen's docs/misc/xenstore.txt), and deep copies for transactions.
 *
 * Paths are absolute and already checked by the caller (xenstore.c): "/" or
 * "/name/name...". Errors are negative host errno values, the names xenstored sends
 * (EACCES, ENOENT, ENOSPC, E2BIG...). Permissions follow xenstored: a node's first entry
 * names its owner and what every other domain may do, later entries grant one domain
 * 'r', 'w', 'b' (both) or 'n' (none); the owner and domain 0 may do anything. A new node
 * inherits its parent's permissions, and a node an unprivileged domain creates is its own.
 */
#ifndef LODGER_XEN_XS_TREE_H
#define LODGER_XEN_XS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XS_MAX_NODES 2048 /* per tree, the guest's and lodger's together */
#define XS_MAX_PERMS 16	  /* entries of one node's permission list */

struct xs_perm {
	uint16_t dom;
	char perm; /* 'n', 'r', 'w' or 'b' */
};

struct xs_node {
	char *name; /* the last path component; "" for the root */
	char *value;
	uint32_t len;
	struct xs_perm perms[XS_MAX_PERMS];
	unsigned nperms; /* >= 1 */
	struct xs_node *parent;
	struct xs_node **child;
	unsigned nchild, cap;
};

struct xs_tree {
	struct xs_node *root;
	unsigned nodes;
	uint64_t gen; /* bumped by every change: a transaction's conflict check */
};

/* An empty tree: the root, owned by domain 0, readable by nobody else. -ENOMEM. */
int xs_tree_init(struct xs_tree *t);
void xs_tree_free(struct xs_tree *t);
/* dst becomes a deep copy of src (gen included); -ENOMEM leaves dst empty. */
int xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src);

struct xs_node *xs_tree_find(const struct xs_tree *t, const char *path);

/* 'r' and 'w' rights of `dom` on node n. */
bool xs_can_read(const struct xs_node *n, uint16_t dom);
bool xs_can_write(const struct xs_node *n, uint16_t dom);

/* Read: the node, if `dom` may read it. -ENOENT, -EACCES. */
int xs_tree_read(const struct xs_tree *t, const char *path, uint16_t dom,
		 const struct xs_node **out);
/*
 * Write (value != NULL) or mkdir (value NULL: an existing node is left as it is). Missing
 * ancestors are created; the nearest existing one must be writable by dom. 0, -EACCES,
 * -ENOSPC (node limit), -ENOMEM.
 */
int xs_tree_write(struct xs_tree *t, const char *path, const char *value, uint32_t len,
		  uint16_t dom);
/* Removes the node and what lies below it. -ENOENT when the parent is missing too (a
 * missing node under an existing parent is success, as xenstored has it), -EACCES,
 * -EINVAL for the root. */
int xs_tree_rm(struct xs_tree *t, const char *path, uint16_t dom);
/* Sets the permission list (1..XS_MAX_PERMS entries). Only the owner or domain 0; an
 * unprivileged domain cannot give the node away (-EPERM). */
int xs_tree_set_perms(struct xs_tree *t, const char *path, const struct xs_perm *p, unsigned n,
		      uint16_t dom);

#endif
