import { describe, expect, it } from 'vitest';
import {
  ClientConnections,
  clientKey,
  connectionLimits,
  fileLimit,
  raiseFileLimit,
} from './connection-limits.js';

describe('connectionLimits', () => {
  it('leaves half the file descriptors to everything that is not a client connection', () => {
    expect(connectionLimits(20_000)).toMatchObject({ maxConnections: 10_000, maxConnectionsPerClient: 1024 });
    expect(connectionLimits(1_048_576).maxConnections).toBe(16_384);
    expect(connectionLimits(1024, { maxConnectionsPerClient: 4096 })).toMatchObject({
      maxConnections: 512,
      maxConnectionsPerClient: 512,
    });
  });
});

describe('ClientConnections', () => {
  it('admits a client up to its cap, and again once one of its connections closes', () => {
    const clients = new ClientConnections(2);
    expect(clients.admit('10.0.0.1')).toBe(true);
    expect(clients.admit('10.0.0.1')).toBe(true);
    expect(clients.admit('10.0.0.1')).toBe(false);
    expect(clients.admit('10.0.0.2')).toBe(true);
    clients.release('10.0.0.1');
    expect(clients.admit('10.0.0.1')).toBe(true);
    expect(clients.count('10.0.0.1')).toBe(2);
  });
});

describe('raiseFileLimit', () => {
  it('leaves the soft limit at the hard limit', () => {
    const now = raiseFileLimit();
    expect(now).toBe(fileLimit().hard);
    expect(fileLimit().soft).toBe(fileLimit().hard);
  });
});

describe('clientKey', () => {
  it('counts IPv4 by address, mapped or not, and IPv6 by its /64', () => {
    expect(clientKey('10.0.0.1')).toBe('10.0.0.1');
    expect(clientKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('2001:db8:1:3::1')).not.toBe(clientKey('2001:db8:1:2::1'));
  });
});
