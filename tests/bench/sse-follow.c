/* sse-follow.c: many SSE readers of one breakglass session, cheap enough
 * that the reader does not set the figure it measures.
 *
 *   sse-follow PORT SESSION_ID CLIENTS TOKEN TEXT_EVENTS
 *
 * Attaches CLIENTS streams to the session, prints "ready" once every one
 * has its `caught-up`, then reads until every one has the turn's
 * `turn_end`. Each read is stamped (CLOCK_MONOTONIC, µs) as it returns and
 * parsed only afterwards. Prints one JSON object: whether every client got
 * the same gap-free ids, TEXT_EVENTS text events each, the delay of every
 * text event from the fake's `[m=<µs>]` stamp to its read, and the cost of
 * each wake-up. breakglass_bench.py runs it with --native-clients.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct
{
  size_t end;        /* the buffer's length after this read */
  int64_t t_us;
} Read;

typedef struct
{
  int fd;
  char *buf;
  size_t len, cap;
  size_t live_from;  /* just after `event: caught-up` */
  size_t scanned;    /* where the search for turn_end goes on */
  bool caught_up, done;
  Read *reads;
  size_t n_reads, cap_reads;
} Client;

static int64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *
grow (void *p, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap)
    return p;
  while (*cap < need)
    *cap = *cap ? *cap * 2 : 4096;
  p = realloc (p, *cap * size);
  if (p == NULL)
    {
      perror ("realloc");
      exit (1);
    }
  return p;
}

static void
die (const char *what)
{
  perror (what);
  exit (1);
}

static int
attach (int port, const char *sid, const char *token)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  char request[512];
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int n;

  if (fd < 0)
    die ("socket");
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    die ("connect");
  n = snprintf (request, sizeof request,
                "GET /api/session/%s/stream HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\n\r\n", sid, token);
  if (n <= 0 || (size_t) n >= sizeof request || write (fd, request, n) != n)
    die ("write");
  return fd;
}

/* Reads what is there; FALSE when the daemon closed the stream. */
static bool
read_some (Client *c, int64_t t_us)
{
  for (;;)
    {
      ssize_t n;

      c->buf = grow (c->buf, &c->cap, c->len + 65536 + 1, 1);
      n = recv (c->fd, c->buf + c->len, 65536, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      c->len += n;
      c->buf[c->len] = '\0';
      c->reads = grow (c->reads, &c->cap_reads, c->n_reads + 1, sizeof (Read));
      c->reads[c->n_reads++] = (Read) { c->len, t_us };
    }
}

static void
note_progress (Client *c)
{
  const char *hit;

  if (!c->caught_up)
    {
      hit = strstr (c->buf + c->scanned, "event: caught-up\n");
      if (hit == NULL)
        {
          c->scanned = c->len > 64 ? c->len - 64 : 0;
          return;
        }
      c->caught_up = true;
      c->live_from = c->scanned = hit - c->buf;
    }
  /* Earlier turns' turn_end came before caught-up: only this turn's counts. */
  if (strstr (c->buf + c->scanned, "\"kind\":\"turn_end\"") != NULL)
    c->done = true;
  else if (c->len > c->live_from + 64)
    c->scanned = c->len - 64;
}

static int64_t
read_time (const Client *c, size_t frame_end)
{
  for (size_t i = 0; i < c->n_reads; i++)
    if (c->reads[i].end >= frame_end)
      return c->reads[i].t_us;
  return -1;
}

static void
follow (Client *clients, int n, int epfd, bool (*until) (const Client *),
        FILE *wakeups)
{
  struct epoll_event events[256];
  int left = 0;

  for (int i = 0; i < n; i++)
    left += !until (&clients[i]);
  while (left > 0)
    {
      int ready = epoll_wait (epfd, events, 256, 60000);
      int64_t t0;

      if (ready < 0 && errno == EINTR)
        continue;
      if (ready <= 0)
        {
          fprintf (stderr, "sse-follow: timed out\n");
          exit (1);
        }
      t0 = now_us ();
      for (int i = 0; i < ready; i++)
        {
          Client *c = events[i].data.ptr;
          bool before = until (c);

          if (!read_some (c, now_us ()))
            {
              fprintf (stderr, "sse-follow: a client was dropped\n");
              exit (1);
            }
          note_progress (c);
          if (!before && until (c))
            left--;
        }
      if (wakeups != NULL)
        fprintf (wakeups, "%s%" PRId64, ftell (wakeups) > 0 ? "," : "", now_us () - t0);
    }
}

static bool
is_caught_up (const Client *c)
{
  return c->caught_up;
}

static bool
is_done (const Client *c)
{
  return c->done;
}

int
main (int argc, char **argv)
{
  int port, n, texts_expected, epfd;
  Client *clients;
  char *wakeups_text = NULL, *delays_text = NULL;
  size_t wakeups_len = 0, delays_len = 0;
  FILE *wakeups, *delays;
  long first_id = -1, count = -1;
  bool in_order = true;

  if (argc != 6)
    {
      fprintf (stderr, "usage: %s PORT SESSION_ID CLIENTS TOKEN TEXT_EVENTS\n", argv[0]);
      return 2;
    }
  port = atoi (argv[1]);
  n = atoi (argv[3]);
  texts_expected = atoi (argv[5]);
  clients = calloc (n, sizeof (Client));
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (clients == NULL || epfd < 0)
    die ("setup");
  for (int i = 0; i < n; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &clients[i] };

      clients[i].fd = attach (port, argv[2], argv[4]);
      if (epoll_ctl (epfd, EPOLL_CTL_ADD, clients[i].fd, &ev) != 0)
        die ("epoll_ctl");
    }
  follow (clients, n, epfd, is_caught_up, NULL);
  printf ("ready\n");
  fflush (stdout);

  wakeups = open_memstream (&wakeups_text, &wakeups_len);
  delays = open_memstream (&delays_text, &delays_len);
  follow (clients, n, epfd, is_done, wakeups);

  for (int i = 0; i < n; i++)
    {
      Client *c = &clients[i];
      long expected_id = -1, seen = 0;
      int texts = 0;
      char *frame = c->buf + c->live_from;
      char *end;

      /* Frames are separated by a blank line; the first is caught-up. */
      while ((end = strstr (frame, "\n\n")) != NULL)
        {
          char *data;
          long id;

          *end = '\0';
          data = strstr (frame, "data: {\"id\":");
          if (data != NULL)
            {
              id = strtol (data + strlen ("data: {\"id\":"), NULL, 10);
              if (expected_id >= 0 && id != expected_id)
                in_order = false;
              if (expected_id < 0 && i == 0)
                first_id = id;
              else if (expected_id < 0 && id != first_id)
                in_order = false;
              expected_id = id + 1;
              seen++;
              if (strstr (data, "\"kind\":\"text\"") != NULL)
                {
                  char *stamp = strstr (data, "[m=");

                  texts++;
                  if (stamp != NULL)
                    {
                      int64_t written = strtoll (stamp + 3, NULL, 10);
                      int64_t read_at = read_time (c, end + 2 - c->buf);

                      fprintf (delays, "%s%" PRId64, ftell (delays) > 0 ? "," : "",
                               read_at - written);
                    }
                }
            }
          frame = end + 2;
        }
      if (i == 0)
        count = seen;
      else if (seen != count)
        in_order = false;
      if (texts != texts_expected)
        in_order = false;
      close (c->fd);
    }
  fclose (wakeups);
  fclose (delays);
  printf ("{\"in_order\":%s,\"events_per_client\":%ld,\"delays_us\":[%s],\"wakeups_us\":[%s]}\n",
          in_order ? "true" : "false", count, delays_text, wakeups_text);
  return 0;
}
