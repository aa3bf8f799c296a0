#!/usr/bin/env python3
"""A small HTTP server for the download tests (standard library only, any python3).

  http_server.py --root DIR [--log FILE]

Listens on 127.0.0.1 on a port the system picks and prints "PORT <n>" on a line
of its own once it accepts connections. Paths:

  /files/NAME       DIR/NAME, with Range requests ("bytes=N-" and "bytes=N-M": 206
                    and Content-Range; 416 when N is past the end)
  /cut-once/NAME    the first request for NAME announces the whole (remaining)
                    length but sends only up to the middle of the file, then
                    closes the connection; later requests are served as /files/
  /cut-always/NAME  every request is cut off that way
  /no-range/NAME    ignores Range headers: always 200 and the whole file
  /busy-once/NAME   the first request for NAME is answered 503 (Service
                    Unavailable); later requests are served as /files/
  /slow/NAME        as /files/, sent in 20 pieces 0.1 s apart (2 s a request), so
                    that processes started together overlap
  anything else     404

Each request is appended to the log file as "METHOD PATH RANGE" (RANGE is "-"
without a Range header). Runs until it is killed.
"""
import argparse
import http.server
import os
import re
import sys
import threading
import time


def make_handler(root, log_path):
    lock = threading.Lock()
    cut_done = set()
    busy_done = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a cut-off is a closed socket

        def log_message(self, format, *args):  # noqa: A002 - keep stderr quiet
            pass

        def do_GET(self):  # noqa: N802
            range_header = self.headers.get("Range")
            if log_path:
                with lock, open(log_path, "a") as log:
                    log.write(f"GET {self.path} {range_header or '-'}\n")
            match = re.fullmatch(r"/(files|cut-once|cut-always|no-range|slow|busy-once)/([A-Za-z0-9._-]+)",
                                 self.path)
            file_path = os.path.join(root, match.group(2)) if match else None
            if not file_path or not os.path.isfile(file_path):
                self.send_error(404, "Not Found")
                return
            mode = match.group(1)
            if mode == "busy-once":
                with lock:
                    busy = file_path not in busy_done
                    busy_done.add(file_path)
                if busy:
                    self.send_error(503, "Service Unavailable")
                    return
            with open(file_path, "rb") as f:
                data = f.read()
            size = len(data)
            start, end = 0, size - 1
            status = 200
            if range_header and mode != "no-range":
                m = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
                if not m:
                    self.send_error(400, "Bad Range")
                    return
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                if start >= size or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = data[start:end + 1]
            cut = mode == "cut-always"
            if mode == "cut-once":
                with lock:
                    cut = file_path not in cut_done
                    cut_done.add(file_path)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if cut:
                body = body[:max(0, size // 2 - start)]
            if mode == "slow":
                step = max(1, -(-len(body) // 20))
                for at in range(0, len(body), step):
                    self.wfile.write(body[at:at + step])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(body)
                self.wfile.flush()
            if cut:
                self.close_connection = True

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--log")
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(args.root, args.log))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
