#!/usr/bin/env python3
"""nginx's mail auth_http service for the comparison, run as its own process
(so its CPU time is measured apart from nginx's and it does not share a GIL
with the script that drives the runs).

  authhttp.py --listen 127.0.0.1:PORT --users FILE --servers '{"imap": "127.0.0.1:143", ...}'

FILE has one `user password` per line. A request whose Auth-User and
Auth-Pass match is answered Auth-Status: OK with Auth-Server/Auth-Port of
the pod's server for Auth-Protocol; anything else gets a refusal. Threaded,
HTTP/1.1 keep-alive for clients that keep the connection (nginx itself sends
HTTP/1.0 and one request per connection).
"""

import argparse
import http.server
import json
import sys
import urllib.parse


def load_users(path):
    users = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                users[parts[0]] = parts[1]
    return users


def make_handler(users, servers):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            # nginx escapes both values (ngx_escape_uri, NGX_ESCAPE_MAIL_AUTH)
            user = urllib.parse.unquote(self.headers.get("Auth-User", ""))
            password = urllib.parse.unquote(self.headers.get("Auth-Pass", ""))
            protocol = self.headers.get("Auth-Protocol", "")
            self.send_response(200)
            if users.get(user) == password and protocol in servers:
                host, port = servers[protocol].rsplit(":", 1)
                self.send_header("Auth-Status", "OK")
                self.send_header("Auth-Server", host)
                self.send_header("Auth-Port", port)
            else:
                self.send_header("Auth-Status", "Invalid login or password")
                self.send_header("Auth-Wait", "1")
                self.send_header("Auth-Error-Code", "535 5.7.8")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


class Server(http.server.ThreadingHTTPServer):
    # the default backlog of 5 drops SYNs when nginx opens dozens of
    # connections at once, and a dropped SYN costs a 1 s retransmission
    request_queue_size = 4096
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="IP:PORT")
    parser.add_argument("--users", required=True, help="file of `user password` lines")
    parser.add_argument("--servers", required=True, help="JSON: protocol -> IP:PORT")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = Server((host, int(port)), make_handler(load_users(args.users),
                                                    json.loads(args.servers)))
    sys.stdout.write("listening on %s\n" % args.listen)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
