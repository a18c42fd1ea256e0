#!/usr/bin/python3
"""A fake Woodpecker CI server (REST API v2/v3) for the tests.

Serves, on 127.0.0.1, the endpoints the daemon reads:

  GET /api/repos/lookup/{owner}/{name}   -> the repository ({"id", "full_name", ...})
  GET /api/repos/{id}/pipelines          -> its pipelines, newest first,
                                            ?page (from 1) &perPage (1-50, else 50)

Both want "Authorization: Bearer <token>" (401 without it or with another
token), answer 404 for a repository that is not there and 400 for an id
that is not a number, like the real server. Everything under /_fake/ is
the control API for tests, with no token (see tests/fakes/README.md).

  /usr/bin/python3 fake_woodpecker.py --port-file F [--token T]

Stdlib only. Once it is listening it writes its port to F (atomically)
and then on a line of stdout.
"""

import argparse
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, unquote

MAX_PAGE_SIZE = 50
MODES = ("normal", "garbage", "not-utf8", "wrong-shape", "wrong-item", "wrong-types", "huge",
         "huge-declared", "status-500", "redirect")


class State:
    def __init__(self, token):
        self.lock = threading.Lock()
        self.token = token
        self.reset()

    def reset(self):
        self.repos = {}         # full_name -> repo dict
        self.pipelines = {}     # repo id -> list of pipeline dicts
        self.requests = []
        self.next_repo_id = 1
        self.next_pipeline_id = 1
        self.mode = "normal"
        self.mode_paths = None  # None: every API path; else prefixes

    def add_repo(self, full_name, repo_id=None):
        if full_name in self.repos:
            return self.repos[full_name]
        owner, name = full_name.split("/", 1)
        if repo_id is None:
            repo_id = self.next_repo_id
        self.next_repo_id = max(self.next_repo_id, repo_id) + 1
        repo = {
            "id": repo_id,
            "forge_remote_id": str(1000 + repo_id),
            "owner": owner,
            "name": name,
            "full_name": full_name,
            "clone_url": "https://github.com/%s.git" % full_name,
            "default_branch": "main",
            "private": False,
            "active": True,
        }
        self.repos[full_name] = repo
        self.pipelines.setdefault(repo_id, [])
        return repo

    def add_pipeline(self, spec):
        repo = self.add_repo(spec["repo"])
        pipelines = self.pipelines[repo["id"]]
        number = spec.get("number")
        if number is None:
            number = max([p["number"] for p in pipelines], default=0) + 1
        # The same number again replaces it (a status changes).
        pipelines[:] = [p for p in pipelines if p["number"] != number]
        pipeline = {
            "id": self.next_pipeline_id,
            "number": number,
            "author": "someone",
            "parent": 0,
            "event": spec.get("event", "push"),
            "status": spec.get("status", "pending"),
            "errors": None,
            "created": 1700000000 + number,
            "updated": 1700000000 + number,
            "started": 0,
            "finished": 0,
            "deploy_to": "",
            "commit": spec["commit"],
            "branch": spec.get("branch", "main"),
            "ref": "refs/heads/" + spec.get("branch", "main"),
            "refspec": "",
            "title": "",
            "message": spec.get("message", "a commit"),
            "timestamp": 1700000000 + number,
            "sender": "someone",
            "author_avatar": "",
            "author_email": "someone@example.org",
            "forge_url": "https://github.com/%s/commit/%s" % (spec["repo"], spec["commit"]),
            "reviewed_by": "",
            "reviewed": 0,
        }
        self.next_pipeline_id += 1
        pipelines.append(pipeline)
        return pipeline


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeWoodpecker/3"

        def log_message(self, fmt, *args):
            pass

        def send_body(self, status, body, content_type="application/json",
                      declared_length=None, extra_headers=()):
            if isinstance(body, str):
                body = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length",
                             str(len(body) if declared_length is None else declared_length))
            for name, value in extra_headers:
                self.send_header(name, value)
            self.end_headers()
            if declared_length is None:
                self.wfile.write(body)
            else:
                self.close_connection = True

        def send_json(self, status, value):
            self.send_body(status, json.dumps(value))

        def read_json(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            return json.loads(raw.decode("utf-8")) if raw else {}

        # ---- control API ----

        def control(self, method, path):
            if method == "POST" and path == "/_fake/reset":
                with state.lock:
                    state.reset()
                return self.send_json(200, {"ok": True})
            if method == "POST" and path == "/_fake/repos":
                spec = self.read_json()
                with state.lock:
                    repo = state.add_repo(spec["full_name"], spec.get("id"))
                return self.send_json(200, repo)
            if method == "POST" and path == "/_fake/pipelines":
                spec = self.read_json()
                with state.lock:
                    pipeline = state.add_pipeline(spec)
                return self.send_json(200, pipeline)
            if method == "POST" and path == "/_fake/mode":
                spec = self.read_json()
                if spec.get("mode") not in MODES:
                    return self.send_json(400, {"error": "mode must be one of %s" % (MODES,)})
                with state.lock:
                    state.mode = spec["mode"]
                    state.mode_paths = spec.get("paths")
                return self.send_json(200, {"ok": True})
            if method == "GET" and path == "/_fake/requests":
                with state.lock:
                    return self.send_json(200, list(state.requests))
            return self.send_json(404, {"error": "no such control endpoint"})

        # ---- the API ----

        def misbehave(self, mode):
            if mode == "garbage":
                return self.send_body(200, b"<html>\x00\x01 this is not JSON {[")
            if mode == "not-utf8":
                return self.send_body(200, b'{"id": 1, "x": "\xff\xfe"}')
            if mode == "wrong-shape":
                return self.send_body(200, '"a string where an object or array belongs"')
            if mode == "wrong-item":
                return self.send_json(200, [{"number": "seven", "commit": 7, "status": []},
                                            "not an object", None])
            if mode == "wrong-types":
                # The right containers, members of the wrong JSON types.
                if "/lookup/" in self.path:
                    return self.send_json(200, {"id": "7", "full_name": 7})
                return self.send_json(200, [{"number": 1.5, "commit": ["x"], "status": None,
                                             "event": {}, "branch": 3}])
            if mode == "huge":
                # Valid JSON, over 8 MiB, no declared length: read to the end.
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    self.wfile.write(b"[" + b" " * (9 * 1024 * 1024) + b"]")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return None
            if mode == "huge-declared":
                return self.send_body(200, b"", declared_length=64 * 1024 * 1024)
            if mode == "status-500":
                return self.send_body(500, "internal error", content_type="text/plain")
            if mode == "redirect":
                return self.send_body(302, "", content_type="text/plain",
                                      extra_headers=[("Location", "http://127.0.0.1:9/steal")])
            raise AssertionError(mode)

        def api(self, path, query):
            auth = self.headers.get("Authorization")
            if auth != "Bearer " + state.token:
                return self.send_body(401, "Unauthorized", content_type="text/plain")
            with state.lock:
                mode = state.mode
                applies = state.mode_paths is None or any(
                    path.startswith(p) for p in state.mode_paths)
            if mode != "normal" and applies:
                return self.misbehave(mode)

            match = re.fullmatch(r"/api/repos/lookup/(.+)", path)
            if match:
                with state.lock:
                    repo = state.repos.get(match.group(1))
                if repo is None:
                    return self.send_body(404, "Not Found", content_type="text/plain")
                return self.send_json(200, repo)

            match = re.fullmatch(r"/api/repos/([^/]+)/pipelines", path)
            if match:
                try:
                    repo_id = int(match.group(1))
                except ValueError:
                    return self.send_body(400, "invalid repo id", content_type="text/plain")
                with state.lock:
                    if repo_id not in state.pipelines:
                        return self.send_body(404, "Not Found", content_type="text/plain")
                    newest_first = sorted(state.pipelines[repo_id],
                                          key=lambda p: p["id"], reverse=True)
                page = self.int_param(query, "page", 1)
                if page < 1:
                    page = 1
                per_page = self.int_param(query, "perPage", MAX_PAGE_SIZE)
                if per_page < 1 or per_page > MAX_PAGE_SIZE:
                    per_page = MAX_PAGE_SIZE
                start = (page - 1) * per_page
                return self.send_json(200, newest_first[start:start + per_page])

            return self.send_body(404, "404 page not found", content_type="text/plain")

        @staticmethod
        def int_param(query, name, default):
            try:
                return int(query.get(name, [str(default)])[0])
            except ValueError:
                return default

        def handle_any(self, method):
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = parse_qs(parts.query)
            if path.startswith("/_fake/"):
                return self.control(method, path)
            with state.lock:
                state.requests.append({
                    "method": method,
                    "path": parts.path,
                    "query": {k: v[0] for k, v in query.items()},
                    "authorization": self.headers.get("Authorization"),
                    "accept": self.headers.get("Accept"),
                    "user_agent": self.headers.get("User-Agent"),
                })
            if method != "GET":
                return self.send_body(405, "Method Not Allowed", content_type="text/plain")
            return self.api(path, query)

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--token", default="fake-woodpecker-token")
    args = parser.parse_args()

    state = State(args.token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)
    # Also on stdout, for a test that waits for it by reading a line.
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
