import { describe, expect, it } from 'vitest';
import { requestIdOf } from './request-id.js';

const ID = 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef';

describe('requestIdOf', () => {
  it("reads node's console lines, including its Invoke Error line", () => {
    expect(requestIdOf(`2024-03-12T19:03:58.123Z\t${ID}\tINFO\thello`)).toBe(ID);
    expect(
      requestIdOf(
        `2024-03-12T19:03:58.123Z\t${ID}\tERROR\tInvoke Error \t{"errorType":"Error","errorMessage":"x"}`,
      ),
    ).toBe(ID);
    expect(requestIdOf('2024-03-12T19:03:58.123Z\tundefined\tINFO\tat boot')).toBeUndefined();
  });

  it("reads python's logging lines", () => {
    expect(requestIdOf(`[INFO]\t2024-03-12T19:03:58.123Z\t${ID}\tprocessing`)).toBe(ID);
    expect(requestIdOf('[WARNING]\t2024-03-12T19:03:58.123Z\t\tno request')).toBeUndefined();
  });

  it('reads JSON log lines', () => {
    expect(
      requestIdOf(`{"timestamp":"2024-03-12T19:03:58Z","level":"INFO","requestId":"${ID}","message":"m"}`),
    ).toBe(ID);
    expect(requestIdOf('{"requestId": 42}')).toBeUndefined();
    expect(requestIdOf('{"requestId": "torn')).toBeUndefined();
  });

  it('finds none in plain output', () => {
    for (const line of ['hello', '[ERROR] ValueError: boom', `x\t${ID}\tINFO\ty`, '', '\tTraceback'])
      expect(requestIdOf(line)).toBeUndefined();
  });
});
