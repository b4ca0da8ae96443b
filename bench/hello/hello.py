# The benchmark's hello for a bare python process (run with -S): a raw HTTP responder on a
# unix socket, without http.server (which alone costs ~45 ms to import).
import os
import socket

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(os.environ["HELLO_SOCKET"])
sock.listen(16)
while True:
    conn, _ = sock.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nhello\n")
    conn.close()
