// The shop's front door: POST /orders takes {items: [{sku, qty}]}, prices it by calling the
// quote function through the gateway, queues its receipt with the Java worker (an async
// invocation, also through the gateway), and answers with the order, its quote and where the
// receipt's invocation can be followed.
import http from 'node:http';

/**
 * Call the gateway over this instance's call socket: the spec's `calls: [quote, receipts]`
 * gives it the socket at $KILN_GATEWAY_SOCKET, which serves `/fn/<name>/…` and
 * `POST /async/<name>/…` of the functions named there (README, "Calls between functions").
 */
function callFunction(path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: process.env.KILN_GATEWAY_SOCKET,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/orders') {
      const order = await request.json().catch(() => null);
      if (!Array.isArray(order?.items) || order.items.length === 0)
        return Response.json({ error: 'an order is {"items": [{"sku", "qty"}]}' }, { status: 400 });
      const quote = await callFunction('/fn/quote/', order);
      if (quote.status !== 200)
        return Response.json({ error: 'the quote failed', quote: quote.body }, { status: 502 });
      const id = crypto.randomUUID();
      const receipt = await callFunction(`/async/receipts/orders/${id}`, order);
      if (receipt.status !== 202)
        return Response.json({ error: 'the receipt could not be queued', receipt: receipt.body }, { status: 502 });
      return Response.json(
        {
          id,
          shop: process.env.SHOP_NAME,
          items: order.items.length,
          quote: quote.body,
          // GET it for the receipt's state: queued, running, succeeded (retried on failure).
          receipt: receipt.body.location,
        },
        { status: 201 },
      );
    }
    return Response.json({ shop: process.env.SHOP_NAME, routes: ['POST /orders'] });
  },
};
