// A Hono app in TypeScript, deployed as is: its default export has fetch(), and Kiln
// bundles hono from this function's own node_modules.
import { Hono } from 'hono';

interface Greeting {
  hello: string;
  runtime: string;
}

const app = new Hono();

app.get('/', (c) => c.text('Hello from Hono on Kiln\n'));
app.get('/greet/:name', (c) => c.json<Greeting>({ hello: c.req.param('name'), runtime: `node ${process.version}` }));
app.post('/echo', async (c) => c.json({ echo: await c.req.json() }));

export default app;
