// A web-standard function: Kiln calls fetch(request) and sends back the Response.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const name = url.searchParams.get('name') ?? 'world';
    if (request.method === 'POST') {
      return new Response(`you sent ${(await request.text()).length} bytes\n`);
    }
    return new Response(`Hello, ${name}! (node ${process.version}, path ${url.pathname})\n`, {
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  },
};
