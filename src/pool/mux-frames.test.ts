import { describe, expect, it } from 'vitest';
import {
  END,
  FrameReader,
  frame,
  headPayload,
  parseResponseHead,
  requestFrame,
  requestHeadText,
  splitHeadPayload,
} from './mux-frames.js';

describe('mux frames', () => {
  it('reads frames split anywhere across chunks, and several in one chunk', () => {
    const bytes = Buffer.concat([
      ...frame(1, END, 7, headPayload('GET\n/a\nhost\nx', Buffer.from('body'))),
      ...frame(17, 0, 9, [Buffer.from('chunk')]),
      ...frame(18, 0, 9),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const seen: [number, number, number, string][] = [];
      const reader = new FrameReader((type, flags, id, payload) =>
        seen.push([type, flags, id, payload.toString('latin1')]),
      );
      expect(reader.push(bytes.subarray(0, cut))).toBe(true);
      expect(reader.push(bytes.subarray(cut))).toBe(true);
      expect(seen.map(([t, f, i]) => [t, f, i])).toEqual([
        [1, END, 7],
        [17, 0, 9],
        [18, 0, 9],
      ]);
      expect(splitHeadPayload(Buffer.from(seen[0]![3], 'latin1'))).toEqual({
        text: 'GET\n/a\nhost\nx',
        body: Buffer.from('body'),
      });
      expect(seen[1]![3]).toBe('chunk');
    }
  });

  it('refuses a frame larger than the limit, and a head length past its payload', () => {
    const reader = new FrameReader(() => undefined, 100);
    expect(reader.push(Buffer.concat(frame(17, 0, 1, [Buffer.alloc(101)])))).toBe(false);
    const lying = Buffer.alloc(6);
    lying.writeUInt32BE(3, 0);
    expect(splitHeadPayload(lying)).toBeUndefined();
  });

  it('passes on a response head only if it is valid HTTP', () => {
    expect(parseResponseHead('200\n5\ncontent-type\ntext/plain\nx-a\n1')).toEqual({
      status: 200,
      contentLength: 5,
      headers: ['content-type', 'text/plain', 'x-a', '1'],
    });
    expect(parseResponseHead('204\n')).toEqual({ status: 204, contentLength: undefined, headers: [] });
    for (const bad of [
      '200\n5\nx-a\nsplit\r\ninjected: 1', // a CR would let a function write its own header line
      '200\n5\nx-a\nnul\0',
      '200\n5\nX-Upper\n1', // names are lowercase
      '200\n5\nbad name\n1',
      '200\n5\nodd',
      '100\n', // no interim answers
      '20\n',
      '200\n-1',
    ]) {
      expect(parseResponseHead(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('writes a request head as lines', () => {
    expect(requestHeadText('POST', '/p?q=1', ['host', 'h', 'x', ''])).toBe('POST\n/p?q=1\nhost\nh\nx\n');
  });
});

describe('requestFrame', () => {
  it('is the same bytes as the frame built from parts', () => {
    const text = requestHeadText('POST', '/é?x', ['host', 'h', 'x-bin', 'ÿ']);
    for (const body of [undefined, Buffer.from('body')]) {
      expect(requestFrame(END | 2, 77, text, body)).toEqual(
        Buffer.concat(frame(1, END | 2, 77, headPayload(text, body))),
      );
    }
  });
});
