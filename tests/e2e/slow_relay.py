#!/usr/bin/env python3
"""A TCP relay to 127.0.0.1:TARGET that passes the client's bytes on at
RATE bytes a second at most (the answers go back at once): a slow uplink.
Prints "listening port=N" when ready."""
import socket
import sys
import threading
import time

CHUNK = 16384


def pipe(src, dst, rate):
    try:
        while True:
            b = src.recv(CHUNK)
            if not b:
                break
            dst.sendall(b)
            if rate > 0:
                time.sleep(len(b) / rate)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client, target_port, rate):
    try:
        up = socket.create_connection(("127.0.0.1", target_port), timeout=10)
        up.settimeout(None)
    except OSError:
        client.close()
        return
    # Small buffers, so that the rate shows at the sender and not in a kernel queue.
    for s in (client, up):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    t = threading.Thread(target=pipe, args=(up, client, 0), daemon=True)
    t.start()
    pipe(client, up, rate)
    t.join()
    client.close()
    up.close()


def main():
    target_port, rate = int(sys.argv[1]), float(sys.argv[2])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("listening port=%d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, target_port, rate), daemon=True).start()


if __name__ == "__main__":
    main()
