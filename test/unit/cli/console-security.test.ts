import { describe, expect, it } from 'vitest';
import { RequestGuard } from '../../../console/security';

const guard = new RequestGuard(4321, 'the-token');
const own = { host: '127.0.0.1:4321' };
const auth = { authorization: 'Bearer the-token' };
const check = (method: string, url: string, headers: Record<string, string>) =>
  guard.check({ method, url, headers });

describe('console request guard', () => {
  it("serves the console's own pages and, with the token, its API", () => {
    expect(check('GET', '/', own)).toBeUndefined();
    expect(check('GET', '/', { host: 'localhost:4321' })).toBeUndefined();
    expect(check('GET', '/api/dlq', { ...own, ...auth })).toBeUndefined();
    expect(
      check('POST', '/api/replay', {
        ...own,
        ...auth,
        origin: 'http://127.0.0.1:4321',
        'sec-fetch-site': 'same-origin',
      }),
    ).toBeUndefined();
  });

  it('refuses another Host (DNS rebinding), whatever else the request has', () => {
    expect(check('GET', '/', { host: 'attacker.example:4321' })?.status).toBe(421);
    expect(check('GET', '/api/dlq', { host: '127.0.0.1:9999', ...auth })?.status).toBe(421);
    expect(check('GET', '/', {})?.status).toBe(421);
  });

  it('refuses another Origin, a state change without one, and cross-site API requests (CSRF)', () => {
    expect(check('POST', '/api/replay', { ...own, ...auth, origin: 'http://attacker.example' })?.status).toBe(
      403,
    );
    expect(check('POST', '/api/replay', { ...own, ...auth, origin: 'null' })?.status).toBe(403);
    expect(check('POST', '/api/replay', { ...own, ...auth })?.status).toBe(403);
    expect(check('GET', '/api/dlq', { ...own, ...auth, 'sec-fetch-site': 'cross-site' })?.status).toBe(403);
  });

  it('refuses the API without the token or with a wrong one', () => {
    expect(check('GET', '/api/dlq', own)).toMatchObject({
      status: 401,
      reason: expect.stringContaining('no access token'),
    });
    expect(check('GET', '/api/dlq', { ...own, authorization: 'Bearer the-tokeN' })?.status).toBe(401);
    expect(check('GET', '/api/dlq', { ...own, authorization: 'the-token' })?.status).toBe(401);
  });
});
