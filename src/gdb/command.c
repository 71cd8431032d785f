/* command.c - the GDB remote protocol's commands, against a struct gdb_target. */
#include "gdb/command.h"

#include <stdio.h>
#include <string.h>

#include "gdb/packet.h"

void gdb_session_init(struct gdb_session *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->last_stop, sizeof(s->last_stop), "S%02x", GDB_SIGTRAP);
}

const char *gdb_stop_reply(struct gdb_session *s, int signal, bool swbreak)
{
	/* With swbreak GDB trusts the stub to have put RIP back on the int3. */
	snprintf(s->last_stop, sizeof(s->last_stop), "T%02xthread:1;%s", signal,
		 swbreak && s->swbreak ? "swbreak:;" : "");
	return s->last_stop;
}

const struct gdb_breakpoint *gdb_breakpoint_at(const struct gdb_session *s, uint64_t la)
{
	for (unsigned i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (s->bp[i].used && s->bp[i].la == la)
			return &s->bp[i];
	return NULL;
}

unsigned gdb_breakpoint_count(const struct gdb_session *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		n += s->bp[i].used;
	return n;
}

static int bp_insert(struct gdb_session *s, const struct gdb_target *t, uint64_t la)
{
	struct gdb_breakpoint *free_bp = NULL;
	uint8_t int3 = GDB_INT3, saved;

	if (gdb_breakpoint_at(s, la))
		return 0;
	for (unsigned i = 0; i < GDB_MAX_BREAKPOINTS && !free_bp; i++)
		if (!s->bp[i].used)
			free_bp = &s->bp[i];
	if (!free_bp || t->ops->read_mem(t->ctx, la, &saved, 1) ||
	    t->ops->write_mem(t->ctx, la, &int3, 1))
		return -1;
	*free_bp = (struct gdb_breakpoint){.la = la, .saved = saved, .used = true};
	return 0;
}

static int bp_remove(struct gdb_session *s, const struct gdb_target *t, uint64_t la)
{
	struct gdb_breakpoint *bp = (struct gdb_breakpoint *)gdb_breakpoint_at(s, la);
	int r = 0;

	if (!bp)
		return 0; /* GDB removes what it may not have planted: not an error */
	/* Only an int3 still there is ours to take back (the guest may have rewritten it). */
	uint8_t now;

	if (t->ops->read_mem(t->ctx, la, &now, 1) == 0 && now == GDB_INT3)
		r = t->ops->write_mem(t->ctx, la, &bp->saved, 1);
	bp->used = false;
	return r;
}

void gdb_breakpoints_clear(struct gdb_session *s, const struct gdb_target *t)
{
	for (unsigned i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (s->bp[i].used)
			bp_remove(s, t, s->bp[i].la);
}

/* Reads hide the int3s planted: GDB sees the guest's own bytes. */
static int mem_read(const struct gdb_session *s, const struct gdb_target *t, uint64_t la,
		    uint8_t *buf, size_t len)
{
	if (t->ops->read_mem(t->ctx, la, buf, len))
		return -1;
	for (unsigned i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (s->bp[i].used && s->bp[i].la - la < len)
			buf[s->bp[i].la - la] = s->bp[i].saved;
	return 0;
}

/* "ADDR,LEN" (then `sep`), LEN at most max. */
static bool parse_addr_len(const char **p, uint64_t *addr, uint64_t *len, uint64_t max)
{
	if (!gdb_hex_u64(p, addr) || **p != ',')
		return false;
	(*p)++;
	return gdb_hex_u64(p, len) && *len <= max;
}

static void reply_str(char *reply, size_t size, const char *s)
{
	snprintf(reply, size, "%s", s);
}

static enum gdb_action cmd_read_mem(struct gdb_session *s, const struct gdb_target *t,
				    const char *p, char *reply, size_t size)
{
	uint8_t buf[GDB_PACKET_MAX / 2];
	uint64_t addr, len;

	if (!parse_addr_len(&p, &addr, &len,
			    (size - 1) / 2 < sizeof(buf) ? (size - 1) / 2 : sizeof(buf)) ||
	    *p)
		reply_str(reply, size, "E01");
	else if (mem_read(s, t, addr, buf, len))
		reply_str(reply, size, "E14");
	else
		gdb_hex_encode(buf, len, reply);
	return GDB_ACT_REPLY;
}

static enum gdb_action cmd_write_mem(struct gdb_session *s, const struct gdb_target *t,
				     const char *p, char *reply, size_t size)
{
	uint8_t buf[GDB_PACKET_MAX / 2];
	uint64_t addr, len;

	if (!parse_addr_len(&p, &addr, &len, sizeof(buf)) || *p != ':' ||
	    strlen(p + 1) != 2 * len || !gdb_hex_decode(p + 1, buf, len)) {
		reply_str(reply, size, "E01");
		return GDB_ACT_REPLY;
	}
	/* A write over a planted int3 changes the byte it will give back instead. */
	for (unsigned i = 0; i < GDB_MAX_BREAKPOINTS; i++)
		if (s->bp[i].used && s->bp[i].la - addr < len) {
			s->bp[i].saved = buf[s->bp[i].la - addr];
			buf[s->bp[i].la - addr] = GDB_INT3;
		}
	reply_str(reply, size, t->ops->write_mem(t->ctx, addr, buf, len) ? "E14" : "OK");
	return GDB_ACT_REPLY;
}

static enum gdb_action cmd_regs(const struct gdb_target *t, const char *p, bool write, char *reply,
				size_t size)
{
	struct gdb_regs r;

	if (t->ops->get_regs(t->ctx, &r)) {
		reply_str(reply, size, "E14");
		return GDB_ACT_REPLY;
	}
	if (!write) {
		gdb_regs_encode(&r, reply);
		return GDB_ACT_REPLY;
	}
	if (!gdb_regs_decode(p, &r))
		reply_str(reply, size, "E01");
	else
		reply_str(reply, size, t->ops->set_regs(t->ctx, &r) ? "E14" : "OK");
	return GDB_ACT_REPLY;
}

static enum gdb_action cmd_reg(const struct gdb_target *t, const char *p, bool write, char *reply,
			       size_t size)
{
	struct gdb_regs r;
	uint64_t n;

	if (!gdb_hex_u64(&p, &n) || (write ? *p != '=' : *p != '\0') || n > 255) {
		reply_str(reply, size, "E01");
		return GDB_ACT_REPLY;
	}
	if (t->ops->get_regs(t->ctx, &r)) {
		reply_str(reply, size, "E14");
		return GDB_ACT_REPLY;
	}
	if (!write) {
		if (!gdb_reg_encode(&r, (unsigned)n, reply))
			reply_str(reply, size, "E01");
		return GDB_ACT_REPLY;
	}
	if (!gdb_reg_decode(&r, (unsigned)n, p + 1))
		reply_str(reply, size, "E01");
	else
		reply_str(reply, size, t->ops->set_regs(t->ctx, &r) ? "E14" : "OK");
	return GDB_ACT_REPLY;
}

/* Z0/z0: a software breakpoint ("0,ADDR,KIND"); other types are not offered. */
static enum gdb_action cmd_breakpoint(struct gdb_session *s, const struct gdb_target *t,
				      const char *p, bool insert, char *reply, size_t size)
{
	uint64_t addr, kind;

	if (p[0] != '0') {
		reply_str(reply, size, ""); /* hardware breakpoints, watchpoints: not supported */
		return GDB_ACT_REPLY;
	}
	p++;
	if (*p != ',' || (p++, !parse_addr_len(&p, &addr, &kind, 16)) || (*p && *p != ';')) {
		reply_str(reply, size, "E01");
		return GDB_ACT_REPLY;
	}
	reply_str(reply, size,
		  (insert ? bp_insert(s, t, addr) : bp_remove(s, t, addr)) ? "E14" : "OK");
	return GDB_ACT_REPLY;
}

/* c/s [ADDR], C/S SIG[;ADDR]: the signal is dropped (a VM has none to pass on). */
static enum gdb_action cmd_resume(const struct gdb_target *t, const char *p, bool with_signal,
				  enum gdb_action act, char *reply, size_t size)
{
	uint64_t addr, sig;

	if (with_signal) {
		if (!gdb_hex_u64(&p, &sig))
			goto bad;
		if (*p == ';')
			p++;
		else if (*p)
			goto bad;
	}
	if (*p) {
		struct gdb_regs r;

		if (!gdb_hex_u64(&p, &addr) || *p || t->ops->get_regs(t->ctx, &r))
			goto bad;
		r.rip = addr;
		if (t->ops->set_regs(t->ctx, &r))
			goto bad;
	}
	return act;
bad:
	reply_str(reply, size, "E01");
	return GDB_ACT_REPLY;
}

/* qXfer:features:read:ANNEX:OFFSET,LENGTH */
static void cmd_xfer_features(const char *p, char *reply, size_t size)
{
	static const char annex[] = "target.xml:";
	size_t total = strlen(gdb_target_xml);
	uint64_t off, len;

	if (strncmp(p, annex, sizeof(annex) - 1) != 0) {
		reply_str(reply, size, "E00");
		return;
	}
	p += sizeof(annex) - 1;
	if (!parse_addr_len(&p, &off, &len, UINT64_MAX) || *p) {
		reply_str(reply, size, "E01");
		return;
	}
	if (len > size - 2)
		len = size - 2;
	if (off >= total) {
		reply_str(reply, size, "l");
		return;
	}
	if (len > total - off)
		len = total - off;
	reply[0] = off + len < total ? 'm' : 'l';
	memcpy(reply + 1, gdb_target_xml + off, len);
	reply[1 + len] = '\0';
}

static enum gdb_action cmd_query(struct gdb_session *s, const char *p, char *reply, size_t size)
{
	if (strncmp(p, "qSupported", 10) == 0) {
		s->swbreak = strstr(p, "swbreak+") != NULL;
		snprintf(reply, size, "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+%s",
			 GDB_PACKET_MAX, s->swbreak ? ";swbreak+" : "");
	} else if (strncmp(p, "qXfer:features:read:", 20) == 0)
		cmd_xfer_features(p + 20, reply, size);
	else if (strcmp(p, "qAttached") == 0)
		reply_str(reply, size, "1"); /* detaching leaves the VM running */
	else if (strcmp(p, "qC") == 0)
		reply_str(reply, size, "QC1");
	else if (strcmp(p, "qfThreadInfo") == 0)
		reply_str(reply, size, "m1");
	else if (strcmp(p, "qsThreadInfo") == 0)
		reply_str(reply, size, "l");
	else if (strncmp(p, "qSymbol", 7) == 0)
		reply_str(reply, size, "OK");
	else if (strcmp(p, "QStartNoAckMode") == 0) {
		s->no_ack = true;
		reply_str(reply, size, "OK");
	} else
		reply_str(reply, size, "");
	return GDB_ACT_REPLY;
}

enum gdb_action gdb_command(struct gdb_session *s, const struct gdb_target *t, const char *pkt,
			    size_t len, char *reply, size_t replysize)
{
	reply[0] = '\0';
	if (len == 0 || strlen(pkt) != len) /* binary payloads (X, vFile) are not offered */
		return GDB_ACT_REPLY;
	switch (pkt[0]) {
	case '?':
		reply_str(reply, replysize, s->last_stop);
		return GDB_ACT_REPLY;
	case 'g':
		return cmd_regs(t, pkt + 1, false, reply, replysize);
	case 'G':
		return cmd_regs(t, pkt + 1, true, reply, replysize);
	case 'p':
		return cmd_reg(t, pkt + 1, false, reply, replysize);
	case 'P':
		return cmd_reg(t, pkt + 1, true, reply, replysize);
	case 'm':
		return cmd_read_mem(s, t, pkt + 1, reply, replysize);
	case 'M':
		return cmd_write_mem(s, t, pkt + 1, reply, replysize);
	case 'Z':
	case 'z':
		return cmd_breakpoint(s, t, pkt + 1, pkt[0] == 'Z', reply, replysize);
	case 'c':
	case 's':
		return cmd_resume(t, pkt + 1, false,
				  pkt[0] == 'c' ? GDB_ACT_CONTINUE : GDB_ACT_STEP, reply,
				  replysize);
	case 'C':
	case 'S':
		return cmd_resume(t, pkt + 1, true, pkt[0] == 'C' ? GDB_ACT_CONTINUE : GDB_ACT_STEP,
				  reply, replysize);
	case 'D':
		gdb_breakpoints_clear(s, t);
		reply_str(reply, replysize, "OK");
		return GDB_ACT_DETACH;
	case 'k':
		return GDB_ACT_KILL;
	case 'H':
	case 'T':
		reply_str(reply, replysize, "OK"); /* one thread: every thread id is it */
		return GDB_ACT_REPLY;
	case 'q':
	case 'Q':
		return cmd_query(s, pkt, reply, replysize);
	case 'v':
		if (strncmp(pkt, "vKill", 5) == 0)
			return GDB_ACT_KILL;
		return GDB_ACT_REPLY; /* vCont, vMustReplyEmpty...: empty, GDB uses c and s */
	default:
		return GDB_ACT_REPLY;
	}
}
