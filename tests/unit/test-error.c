/* Error mapping, HTTP error bodies and the token comparison. */
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cas-error.h"
#include "cas-http-server.h"

static void
test_http_statuses (void)
{
  struct { CasError code; guint status; } cases[] = {
    { CAS_ERROR_INVALID_ARGUMENT, 400 },
    { CAS_ERROR_UNAUTHORIZED, 401 },
    { CAS_ERROR_NOT_FOUND, 404 },
    { CAS_ERROR_METHOD_NOT_ALLOWED, 405 },
    { CAS_ERROR_CONFLICT, 409 },
    { CAS_ERROR_PAYLOAD_TOO_LARGE, 413 },
    { CAS_ERROR_TOO_MANY_REQUESTS, 429 },
    { CAS_ERROR_QUEUE_FULL, 503 },
    { CAS_ERROR_CLI_NOT_FOUND, 503 },
    { CAS_ERROR_FAILED, 500 },
  };
  g_autoptr (GError) foreign = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = g_error_new_literal (CAS_ERROR, cases[i].code, "x");

      g_assert_cmpuint (cas_error_to_http_status (error), ==, cases[i].status);
      g_assert_nonnull (cas_error_to_code_name (error));
    }
  g_assert_cmpuint (cas_error_to_http_status (foreign), ==, 500);
  g_assert_cmpstr (cas_error_to_code_name (foreign), ==, "internal_error");
}

static void
test_dbus_names (void)
{
  g_autoptr (GError) error = g_error_new_literal (CAS_ERROR, CAS_ERROR_NOT_FOUND, "no such run");
  g_autofree char *remote = g_dbus_error_encode_gerror (error);
  g_autoptr (GError) back = NULL;

  g_assert_cmpstr (remote, ==, "org.ClaudeAgentService.Error.NotFound");
  g_assert_cmpstr (cas_error_to_dbus_name (CAS_ERROR_QUEUE_FULL), ==,
                   "org.ClaudeAgentService.Error.QueueFull");
  /* Every code has a distinct, well-formed name, and maps back. */
  for (int code = 0; code <= CAS_ERROR_LAST; code++)
    {
      const char *name = cas_error_to_dbus_name (code);

      g_assert_true (g_dbus_is_interface_name (name));
      for (int other = 0; other < code; other++)
        g_assert_cmpstr (name, !=, cas_error_to_dbus_name (other));
    }
  back = g_dbus_error_new_for_dbus_error ("org.ClaudeAgentService.Error.Conflict", "busy");
  g_assert_error (back, CAS_ERROR, CAS_ERROR_CONFLICT);
  g_assert_cmpstr (cas_error_to_dbus_name (9999), ==, "org.ClaudeAgentService.Error.Failed");
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_error_bodies (void)
{
  g_autofree char *openai = cas_http_format_error ("/v1/chat/completions", 400,
                                                   "invalid_request", "unsupported model \"x\"\x1f");
  g_autofree char *plain = cas_http_format_error ("/jobs/1", 404, "not_found", "Ошибка");
  g_autoptr (JsonObject) o = parse_object (openai);
  g_autoptr (JsonObject) p = parse_object (plain);
  JsonObject *inner = json_object_get_object_member (o, "error");

  g_assert_cmpstr (json_object_get_string_member (inner, "message"), ==, "unsupported model \"x\"\x1f");
  g_assert_cmpstr (json_object_get_string_member (inner, "type"), ==, "invalid_request_error");
  g_assert_true (json_object_get_null_member (inner, "param"));
  g_assert_cmpstr (json_object_get_string_member (inner, "code"), ==, "invalid_request");
  g_assert_cmpstr (json_object_get_string_member (p, "error"), ==, "not_found");
  /* Non-ASCII stays raw UTF-8 on the wire. */
  g_assert_nonnull (strstr (plain, "Ошибка"));
}

static void
test_token_equal (void)
{
  g_assert_true (cas_http_token_equal ("secret", "secret"));
  g_assert_false (cas_http_token_equal ("secre", "secret"));
  g_assert_false (cas_http_token_equal ("secrets", "secret"));
  g_assert_false (cas_http_token_equal ("", "secret"));
  g_assert_false (cas_http_token_equal ("Secret", "secret"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/error/http-statuses", test_http_statuses);
  g_test_add_func ("/error/dbus-names", test_dbus_names);
  g_test_add_func ("/error/bodies", test_error_bodies);
  g_test_add_func ("/error/token-equal", test_token_equal);

  return g_test_run ();
}
