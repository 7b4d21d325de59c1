#!/usr/bin/python3
"""A stand-in for a team's Sentry in rollgate's tests: takes every POST, answers 200, and keeps
the number of requests (<dir>/count), the last request's path and headers (<dir>/last.headers)
and body (<dir>/last.body). Usage: upstream_receiver.py PORT DIR"""
import http.server
import os
import sys

port, directory = int(sys.argv[1]), sys.argv[2]
count = 0


def write(name, data):
    tmp = os.path.join(directory, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(directory, name))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        count += 1
        write("last.body", body)
        write("last.headers", (self.path + "\n" + str(self.headers)).encode())
        write("count", str(count).encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
