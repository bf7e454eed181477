#!/usr/bin/env python3
"""PyPI's XML-RPC mirror methods over a gen_upstream.py tree (stdlib only).

Serves POST /pypi on 127.0.0.1:PORT (nginx proxies the public /pypi to it):
list_packages_with_serial, changelog_since_serial (ascending, at most 50,000
entries a call, like PyPI) and changelog_last_serial. xmlrpc.json is re-read
whenever its mtime or size changes, so `gen_upstream.py --mutate` needs no restart.
"""

import argparse
import bisect
import json
import os
import sys
import threading
from socketserver import ThreadingMixIn
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

CHANGELOG_CAP = 50_000


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/pypi",)

    def log_message(self, format, *args):  # quiet: one line per request is noise
        pass


class Server(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True


class Data:
    def __init__(self, path):
        self.path = path
        self.key = None
        self.lock = threading.Lock()
        self.doc = {}
        self.serials = []

    def current(self):
        st = os.stat(self.path)
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self.lock:
            if key != self.key:
                with open(self.path) as f:
                    doc = json.load(f)
                doc["changelog"].sort(key=lambda e: e[4])
                self.doc = doc
                self.serials = [e[4] for e in doc["changelog"]]
                self.key = key
            return self.doc, self.serials


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="xmlrpc.json written by gen_upstream.py")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    data = Data(args.data)
    try:
        data.current()
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"cannot load {args.data}: {e}")

    def list_packages_with_serial():
        return data.current()[0]["packages"]

    def changelog_last_serial():
        return data.current()[0]["last_serial"]

    def changelog_since_serial(since):
        doc, serials = data.current()
        start = bisect.bisect_right(serials, int(since))
        return doc["changelog"][start : start + CHANGELOG_CAP]

    server = Server(
        ("127.0.0.1", args.port), requestHandler=Handler, logRequests=False, allow_none=True
    )
    server.register_function(list_packages_with_serial)
    server.register_function(changelog_last_serial)
    server.register_function(changelog_since_serial)
    print(f"xmlrpc on 127.0.0.1:{args.port}/pypi", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
