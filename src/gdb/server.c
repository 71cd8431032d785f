/* server.c - the GDB stub's socket, its watcher thread, and the stop loop. */
#include "gdb/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "front/exitcode.h"
#include "front/log.h"
#include "front/signals.h"
#include "gdb/packet.h"

struct gdb {
	int listen_fd;
	int fd; /* the debugger's connection, -1 when none */
	struct gdb_session session;
	struct gdb_rx rx;
	pthread_mutex_t lock;
	pthread_t watcher;
	bool watcher_up;
	bool running;		      /* the guest runs: the watcher owns the socket */
	bool wait_for_client;	      /* -S: the first stop waits for a debugger */
	bool resumed;		      /* the debugger waits for a stop reply */
	bool stepping;		      /* ... after a single step */
	volatile bool stop_requested; /* Ctrl-C or a connection, not yet stopped */
	volatile bool quit;
	void (*kick)(void *);
	void *kick_arg;
	char reply[GDB_PACKET_MAX + 1];
	char out[2 * GDB_PACKET_MAX + 8];
	size_t out_len; /* the last packet sent, for a NAK */
};

int gdb_parse_spec(const char *spec, char *host, size_t hostlen, unsigned *port, char *why,
		   size_t whylen)
{
	const char *rest, *colon;
	char *end;
	unsigned long p;

	if (strncmp(spec, "tcp:", 4) != 0) {
		snprintf(why, whylen, "expected tcp::PORT or tcp:HOST:PORT");
		return -1;
	}
	rest = spec + 4;
	colon = strrchr(rest, ':');
	if (!colon || (size_t)(colon - rest) >= hostlen) {
		snprintf(why, whylen, "expected tcp::PORT or tcp:HOST:PORT");
		return -1;
	}
	memcpy(host, rest, (size_t)(colon - rest));
	host[colon - rest] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p == 0 || p > 65535) {
		snprintf(why, whylen, "port \"%s\": expected 1 to 65535", colon + 1);
		return -1;
	}
	*port = (unsigned)p;
	return 0;
}

static int listen_on(const char *spec)
{
	char host[256], why[96], port_s[8];
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai, *a;
	unsigned port;
	int fd = -1, r, one = 1, e = 0;

	if (gdb_parse_spec(spec, host, sizeof(host), &port, why, sizeof(why))) {
		pr_err("-gdb %s: %s", spec, why);
		return -1;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	/* tcp::PORT listens on every address, as QEMU does. */
	r = getaddrinfo(host[0] ? host : NULL, port_s, &hints, &ai);
	if (r) {
		pr_err("-gdb %s: %s", spec, gai_strerror(r));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		pr_err("-gdb %s: cannot listen: %s", spec, strerror(e));
	return fd;
}

static void take_connection(struct gdb *g, int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	g->fd = fd;
	gdb_rx_init(&g->rx);
	g->session.no_ack = false;
	g->session.swbreak = false;
	g->resumed = false;
	pr_debug(LOG_STUB, "gdb: debugger connected");
}

static void drop_connection(struct gdb *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	g->resumed = g->stepping = false;
}

/* While the guest runs: a new debugger or its Ctrl-C asks for a stop. */
static void *watch(void *arg)
{
	struct gdb *g = arg;
	sigset_t set;

	signals_fill_handled(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!g->quit) {
		struct pollfd p[2] = {{.fd = g->listen_fd, .events = POLLIN},
				      {.fd = -1, .events = POLLIN}};
		bool stop = false;

		pthread_mutex_lock(&g->lock);
		p[1].fd = g->running ? g->fd : -1;
		if (!g->running || g->fd >= 0)
			p[0].fd = -1; /* one debugger at a time; none taken while stopped */
		pthread_mutex_unlock(&g->lock);
		if (poll(p, 2, 50) <= 0)
			continue;
		pthread_mutex_lock(&g->lock);
		if (g->running && p[0].fd >= 0 && (p[0].revents & POLLIN) && g->fd < 0) {
			int fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0) {
				take_connection(g, fd);
				stop = true; /* GDB expects a stopped target when it attaches */
			}
		}
		if (g->running && p[1].fd >= 0 && p[1].fd == g->fd && p[1].revents) {
			uint8_t c;
			ssize_t n = recv(g->fd, &c, 1, MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				drop_connection(g); /* planted int3s go at the next stop */
				stop = gdb_breakpoints(g) > 0;
			} else if (n == 1 && gdb_rx_feed(&g->rx, c) == GDB_RX_INTERRUPT)
				stop = true;
		}
		if (stop) {
			g->stop_requested = true;
			g->kick(g->kick_arg);
		}
		pthread_mutex_unlock(&g->lock);
	}
	return NULL;
}

int gdb_open(const char *spec, bool wait, void (*kick)(void *), void *arg, struct gdb **out)
{
	struct gdb *g = calloc(1, sizeof(*g));

	if (!g) {
		pr_err("-gdb: out of memory");
		return EXIT_HOST_ERROR;
	}
	g->fd = -1;
	g->kick = kick;
	g->kick_arg = arg;
	g->wait_for_client = wait;
	g->stop_requested = wait;
	gdb_session_init(&g->session);
	pthread_mutex_init(&g->lock, NULL);
	g->listen_fd = listen_on(spec);
	if (g->listen_fd < 0) {
		gdb_close(g);
		return EXIT_HOST_ERROR;
	}
	if (pthread_create(&g->watcher, NULL, watch, g)) {
		pr_err("-gdb: cannot start its thread");
		gdb_close(g);
		return EXIT_HOST_ERROR;
	}
	g->watcher_up = true;
	pr_debug(LOG_STUB, "gdb: listening on %s%s", spec, wait ? ", waiting for a debugger" : "");
	*out = g;
	return 0;
}

void gdb_close(struct gdb *g)
{
	if (!g)
		return;
	g->quit = true;
	if (g->watcher_up)
		pthread_join(g->watcher, NULL);
	drop_connection(g);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

bool gdb_stop_requested(const struct gdb *g)
{
	return g->stop_requested;
}

bool gdb_stepping(const struct gdb *g)
{
	return g->stepping;
}

const struct gdb_breakpoint *gdb_breakpoint(const struct gdb *g, uint64_t la)
{
	return gdb_breakpoint_at(&g->session, la);
}

unsigned gdb_breakpoints(const struct gdb *g)
{
	return gdb_breakpoint_count(&g->session);
}

static bool send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_packet(struct gdb *g, const char *payload)
{
	g->out_len = gdb_frame(payload, strlen(payload), g->out, sizeof(g->out));
	return g->out_len && send_all(g->fd, g->out, g->out_len);
}

/* Serves packets until one resumes the guest; false when the connection is gone. */
static bool serve(struct gdb *g, const struct gdb_target *t, enum gdb_action *act)
{
	char buf[512];

	for (;;) {
		ssize_t n = recv(g->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		for (ssize_t i = 0; i < n; i++) {
			switch (gdb_rx_feed(&g->rx, (uint8_t)buf[i])) {
			case GDB_RX_PACKET:
				break;
			case GDB_RX_BAD:
				if (!g->session.no_ack && !send_all(g->fd, "-", 1))
					return false;
				continue;
			case GDB_RX_NAK:
				if (g->out_len && !send_all(g->fd, g->out, g->out_len))
					return false;
				continue;
			default: /* acks; a Ctrl-C while stopped changes nothing */
				continue;
			}
			if (!g->session.no_ack && !send_all(g->fd, "+", 1))
				return false;
			pr_debug(LOG_STUB, "gdb: <- %.60s", g->rx.buf);
			*act = gdb_command(&g->session, t, g->rx.buf, g->rx.len, g->reply,
					   sizeof(g->reply));
			if (*act == GDB_ACT_REPLY || *act == GDB_ACT_DETACH) {
				if (!send_packet(g, g->reply))
					return false;
			}
			if (*act != GDB_ACT_REPLY)
				return true; /* what GDB sent after a resume is the watcher's */
		}
	}
}

enum gdb_action gdb_stop(struct gdb *g, const struct gdb_target *t, int signal, bool swbreak)
{
	enum gdb_action act = GDB_ACT_DETACH;

	pthread_mutex_lock(&g->lock);
	g->running = false;
	g->stop_requested = false;
	pthread_mutex_unlock(&g->lock);
	if (g->fd < 0 && g->wait_for_client) {
		int fd;

		fprintf(stderr, "lodger: waiting for a debugger (-S)\n");
		do
			fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		while (fd < 0 && errno == EINTR && !signals_caught());
		if (fd >= 0)
			take_connection(g, fd);
	}
	g->wait_for_client = false;
	if (g->fd >= 0) {
		const char *stop = gdb_stop_reply(&g->session, signal, swbreak);

		if ((!g->resumed || send_packet(g, stop)) && serve(g, t, &act)) {
			g->resumed = act == GDB_ACT_CONTINUE || act == GDB_ACT_STEP;
			g->stepping = act == GDB_ACT_STEP;
			if (act == GDB_ACT_DETACH)
				drop_connection(g);
		} else {
			pr_debug(LOG_STUB, "gdb: debugger gone");
			drop_connection(g);
			act = GDB_ACT_DETACH;
		}
	}
	if (act == GDB_ACT_DETACH) {
		gdb_breakpoints_clear(&g->session, t);
		g->stepping = false;
	}
	pthread_mutex_lock(&g->lock);
	g->running = act != GDB_ACT_KILL;
	pthread_mutex_unlock(&g->lock);
	return act;
}
