#!/usr/bin/env python3
"""A receiver from before protocol version 2, as a sender sees it: a relay
to a real sitx-recv that answers a HELLO asking for version 2 or more with
the zero-length frame and closes, as those receivers do (PROTOCOL.md §3),
and relays everything else untouched. Prints "listening port=N", then one
line per HELLO it saw: "hello version=V"."""
import socket
import sys
import threading


def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def read_exact(s, n):
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            return None
        out += b
    return out


def serve(client, target_port):
    try:
        up = socket.create_connection(("127.0.0.1", target_port), timeout=10)
        up.settimeout(None)
        greeting = read_exact(up, 32)
        if greeting is None:
            return
        client.sendall(greeting)
        hello = read_exact(client, 8)
        if hello is None:
            return
        print("hello version=%d" % hello[4], flush=True)
        if hello[4] >= 2:
            client.sendall(b"\x00\x00")
            client.close()
            up.close()
            return
        up.sendall(hello)
        t = threading.Thread(target=pipe, args=(up, client), daemon=True)
        t.start()
        pipe(client, up)
        t.join()
    except OSError:
        pass
    finally:
        client.close()


def main():
    target_port = int(sys.argv[1])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    print("listening port=%d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, target_port), daemon=True).start()


if __name__ == "__main__":
    main()
