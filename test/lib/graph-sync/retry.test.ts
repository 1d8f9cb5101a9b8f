import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { graphLinkPath, parseRetryAfter } from '../../../src/lib/clients/graph-retry';

describe('Graph retry and links', () => {
  test('Retry-After is read as fractional seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('2.128'), 2128);
    assert.equal(parseRetryAfter('0.001'), 1);
    assert.equal(parseRetryAfter('3'), 3000);
    const now = Date.parse('2026-11-23T12:00:00Z');
    assert.equal(parseRetryAfter('Mon, 23 Nov 2026 12:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });

  test('next and delta links are followed only on the configured Graph root', () => {
    const base = 'https://graph.microsoft.com';
    assert.equal(graphLinkPath('https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc==', base), '/users/delta?$deltatoken=abc==');
    assert.equal(graphLinkPath('/subscriptions', base), '/subscriptions');
    assert.throws(() => graphLinkPath('https://evil.example/v1.0/users/delta?$skiptoken=x', base));
    assert.throws(() => graphLinkPath('https://graph.microsoft.com.evil.example/v1.0/users', base));
  });
});
