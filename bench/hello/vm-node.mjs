// Inside the VM: start the same hello server, make its first HTTP request, print the marker.
import http from 'node:http';

process.env.HELLO_SOCKET = '/run/kiln/hello.sock';
await import('./hello.mjs');
const get = () =>
  new Promise((resolve, reject) => {
    const req = http.request({ socketPath: process.env.HELLO_SOCKET, path: '/' }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
let body;
for (;;) {
  try {
    body = await get();
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 1));
  }
}
process.stdout.write(`READY ${body}`);
process.exit(0);
