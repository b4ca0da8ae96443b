// The shop's front door: POST /orders takes {items: [{sku, qty}]} and answers with the
// order's id and the two calls that finish it: a quote (sync) and a receipt (async).
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/orders') {
      const order = await request.json().catch(() => null);
      if (!Array.isArray(order?.items) || order.items.length === 0)
        return Response.json({ error: 'an order is {"items": [{"sku", "qty"}]}' }, { status: 400 });
      const id = crypto.randomUUID();
      return Response.json(
        {
          id,
          shop: process.env.SHOP_NAME,
          items: order.items.length,
          next: {
            quote: { method: 'POST', path: '/fn/quote/', body: order },
            receipt: { method: 'POST', path: `/async/receipts/orders/${id}`, body: order },
          },
        },
        { status: 201 },
      );
    }
    return Response.json({ shop: process.env.SHOP_NAME, routes: ['POST /orders'] });
  },
};
