import { describe, expect, it } from 'vitest';
import { addressBlock } from './clientIp.js';

describe('addressBlock: what a per-IP limit counts', () => {
  it('an IPv4 address as it is', () => {
    expect(addressBlock('203.0.113.7')).toBe('203.0.113.7');
  });

  it('an IPv6 address by its /64, however it is written', () => {
    for (const a of ['2001:db8:1:2::a', '2001:db8:1:2:3:4:5:6', '2001:0db8:0001:0002::', '2001:db8:1:2::ffff:1.2.3.4']) expect(addressBlock(a), a).toBe('2001:db8:1:2::/64');
    expect(addressBlock('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressBlock('::1')).toBe('0:0:0:0::/64');
    expect(addressBlock('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressBlock('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
  });
});
