/* cas-line-splitter.c: turn a byte stream into bounded, valid UTF-8 lines.
 *
 * Lines end at '\n'; a '\r' before it is dropped. A line longer than the
 * limit is never buffered: it is reported once and skipped up to the next
 * '\n', so memory stays within max_line_bytes + 1 whatever the input.
 * Invalid UTF-8 and NUL bytes become U+FFFD, so every line delivered is a
 * proper C string that the JSON parser accepts.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cas-cli"

#include <string.h>

#include "cas-line-splitter.h"

/* After a line this big, give the memory back rather than keep it. */
#define KEEP_BYTES (64 * 1024)

struct _CasLineSplitter
{
  gsize max_line_bytes;
  CasLineFunc func;
  gpointer user_data;

  char *buf;          /* (owned) (nullable) the unfinished line */
  gsize len;          /* bytes of the line in @buf, at most max_line_bytes */
  gsize allocated;    /* size of @buf, at most max_line_bytes + 1 */
  gboolean skipping;  /* inside an oversized line, up to the next '\n' */

  guint64 oversized_count;
  guint64 repaired_count;
};

/**
 * cas_line_splitter_new:
 * @max_line_bytes: longest line accepted, in bytes before the '\n'
 *   (a '\r' counts)
 * @func: called for each line, from cas_line_splitter_feed() and
 *   cas_line_splitter_finish()
 * @user_data: passed to @func
 *
 * Returns: (transfer full): a new splitter
 */
CasLineSplitter *
cas_line_splitter_new (gsize       max_line_bytes,
                       CasLineFunc func,
                       gpointer    user_data)
{
  CasLineSplitter *self;

  g_return_val_if_fail (func != NULL, NULL);

  self = g_new0 (CasLineSplitter, 1);
  /* Leave room for the NUL without overflowing. */
  self->max_line_bytes = MIN (max_line_bytes, G_MAXSIZE / 2);
  self->func = func;
  self->user_data = user_data;

  return self;
}

void
cas_line_splitter_free (CasLineSplitter *self)
{
  if (self == NULL)
    return;

  g_free (self->buf);
  g_free (self);
}

static void
reserve (CasLineSplitter *self,
         gsize            size)
{
  gsize new_size;

  if (size <= self->allocated)
    return;

  /* Double for amortised growth, but never past the cap. */
  new_size = MIN (MAX (self->allocated * 2, 256), self->max_line_bytes + 1);
  new_size = MAX (new_size, size);
  self->buf = g_realloc (self->buf, new_size);
  self->allocated = new_size;
}

static void
release (CasLineSplitter *self)
{
  self->len = 0;
  if (self->allocated > KEEP_BYTES)
    {
      g_clear_pointer (&self->buf, g_free);
      self->allocated = 0;
    }
}

static void
deliver (CasLineSplitter *self)
{
  gsize len = self->len;

  reserve (self, len + 1);
  if (len > 0 && self->buf[len - 1] == '\r')
    len--;
  self->buf[len] = '\0';

  /* g_utf8_validate_len() also rejects NUL bytes, and g_utf8_make_valid()
   * turns them into U+FFFD like any other invalid byte. */
  if (g_utf8_validate_len (self->buf, len, NULL))
    {
      self->func (self->buf, len, FALSE, self->user_data);
    }
  else
    {
      g_autofree char *valid = g_utf8_make_valid (self->buf, len);

      self->repaired_count++;
      self->func (valid, strlen (valid), FALSE, self->user_data);
    }

  release (self);
}

/**
 * cas_line_splitter_feed:
 * @self: a splitter
 * @data: (array length=len): the next bytes of the stream
 * @len: length of @data
 *
 * Calls the line function for every line that @data completes.
 */
void
cas_line_splitter_feed (CasLineSplitter *self,
                        const guint8    *data,
                        gsize            len)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (data != NULL || len == 0);

  while (len > 0)
    {
      const guint8 *newline = memchr (data, '\n', len);
      gsize n = newline != NULL ? (gsize) (newline - data) : len;

      if (self->skipping)
        {
          /* Drop the rest of an oversized line. */
        }
      else if (n > self->max_line_bytes - self->len)
        {
          gsize seen = self->len + n;

          self->skipping = TRUE;
          self->oversized_count++;
          release (self);
          self->func (NULL, seen, TRUE, self->user_data);
        }
      else if (n > 0)
        {
          reserve (self, self->len + n + 1);
          memcpy (self->buf + self->len, data, n);
          self->len += n;
        }

      if (newline == NULL)
        return;

      if (self->skipping)
        self->skipping = FALSE;
      else
        deliver (self);

      data += n + 1;
      len -= n + 1;
    }
}

/**
 * cas_line_splitter_finish:
 * @self: a splitter
 *
 * Delivers a last line that had no '\n' (at end of stream). The splitter
 * can then be fed again as if new.
 */
void
cas_line_splitter_finish (CasLineSplitter *self)
{
  g_return_if_fail (self != NULL);

  /* An oversized line was reported when it went over the limit. */
  if (self->skipping)
    self->skipping = FALSE;
  else if (self->len > 0)
    deliver (self);
}

/* Lines dropped for being longer than the limit. */
guint64
cas_line_splitter_get_oversized_count (CasLineSplitter *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->oversized_count;
}

/* Lines delivered with invalid UTF-8 or NUL bytes replaced. */
guint64
cas_line_splitter_get_repaired_count (CasLineSplitter *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->repaired_count;
}

/* Bytes held for the unfinished line: never more than max_line_bytes + 1. */
gsize
cas_line_splitter_get_buffer_size (CasLineSplitter *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->allocated;
}
