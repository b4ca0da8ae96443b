// The benchmark's hello for a bare node process: an HTTP server on a unix socket (or TCP
// :8080) that answers one fixed body. Kiln's hello-node function answers the same.
import http from 'node:http';

const server = http.createServer((_req, res) => res.end('hello\n'));
if (process.env.HELLO_SOCKET) server.listen(process.env.HELLO_SOCKET);
else server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1');
