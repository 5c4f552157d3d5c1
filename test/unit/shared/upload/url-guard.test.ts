import { describe, expect, it } from 'vitest';
import { ErrorCode, UnsafeUploadTargetError } from '../../../../functions/shared/errors';
import {
  assertSafeUploadTarget,
  type UploadGuardPolicy,
} from '../../../../functions/shared/upload/url-guard';

const SIGNATURE = 'c0ffee00deadbeefc0ffee00deadbeefc0ffee00deadbeefc0ffee00deadbeef';
const signed = (base: string) => `${base}?X-Amz-Expires=900&X-Amz-Signature=${SIGNATURE}`;

const policy: UploadGuardPolicy = {
  uploadHostAllowList: ['storage.clear.in', '*.s3.ap-south-1.amazonaws.com', 'uploads.example.com:8443'],
  allowLoopbackHttp: false,
};
const localPolicy: UploadGuardPolicy = {
  uploadHostAllowList: ['127.0.0.1:9000', 'localhost:9000'],
  allowLoopbackHttp: true,
};

function refusal(raw: string, using: UploadGuardPolicy = policy): UnsafeUploadTargetError {
  try {
    assertSafeUploadTarget(raw, using);
  } catch (error) {
    if (error instanceof UnsafeUploadTargetError) return error;
    throw error;
  }
  throw new Error(`expected ${raw} to be refused`);
}

describe('assertSafeUploadTarget', () => {
  it.each([
    'https://storage.clear.in/upload/abc.csv',
    'https://STORAGE.Clear.IN/upload/abc.csv',
    'https://storage.clear.in:443/upload/abc.csv',
    'https://vendor-bucket.s3.ap-south-1.amazonaws.com/k',
    'https://a.b.s3.ap-south-1.amazonaws.com/k',
    'https://uploads.example.com:8443/k',
  ])('accepts %s', (base) => {
    const url = assertSafeUploadTarget(signed(base), policy);

    expect(url.searchParams.get('X-Amz-Signature')).toBe(SIGNATURE);
  });

  it.each([
    ['the bare domain of a *.domain pattern', 'https://s3.ap-south-1.amazonaws.com/bucket/k'],
    ['a look-alike suffix', 'https://evil-s3.ap-south-1.amazonaws.com.attacker.net/k'],
    ['a host merely ending with the domain', 'https://evils3.ap-south-1.amazonaws.com/k'],
    ['a host off the list', 'https://attacker.example.net/k'],
    ['a sub-domain of an exact host', 'https://x.storage.clear.in/k'],
    ['a port not on the list', 'https://storage.clear.in:8443/k'],
    ['another port of a host:port pattern', 'https://uploads.example.com:9443/k'],
    ['the default port of a host:port pattern', 'https://uploads.example.com/k'],
    ['an IP address', 'https://52.219.64.1/k'],
  ])('refuses %s', (_label, base) => {
    const error = refusal(signed(base));

    expect(error.code).toBe(ErrorCode.UNSAFE_UPLOAD_TARGET);
    expect(error.retryable).toBe(false);
  });

  it('accepts a host:port pattern that spells out the default port', () => {
    const explicit: UploadGuardPolicy = {
      uploadHostAllowList: ['storage.clear.in:443'],
      allowLoopbackHttp: false,
    };

    const url = assertSafeUploadTarget(signed('https://storage.clear.in/k'), explicit);

    expect(url.hostname).toBe('storage.clear.in');
  });

  it('refuses http, even to an allow-listed host', () => {
    const error = refusal(signed('http://storage.clear.in/k'));

    expect(error.message).toMatch(/not https/);
  });

  it('accepts loopback http only when the policy allows it', () => {
    const raw = signed('http://127.0.0.1:9000/bucket/k');

    const url = assertSafeUploadTarget(raw, localPolicy);
    const error = refusal(raw, { ...localPolicy, allowLoopbackHttp: false });

    expect(url.port).toBe('9000');
    expect(error.message).toMatch(/not https/);
  });

  it('refuses non-loopback http even when loopback http is allowed', () => {
    const error = refusal(signed('http://10.0.0.8:9000/k'), {
      ...localPolicy,
      uploadHostAllowList: ['10.0.0.8:9000'],
    });

    expect(error.message).toMatch(/not https/);
  });

  it('still wants a loopback host on the allow-list', () => {
    const error = refusal(signed('http://127.0.0.1:9001/k'), localPolicy);

    expect(error.message).toMatch(/not on the route's allow-list/);
  });

  it.each([
    'https://user@storage.clear.in/k',
    'https://user:hunter2pass@storage.clear.in/k',
    'https://:pw-only-1@storage.clear.in/k',
  ])('refuses userinfo in %s', (base) => {
    const error = refusal(signed(base));

    expect(error.message).toMatch(/carries credentials/);
  });

  it('keeps the userinfo password out of the error message', () => {
    const error = refusal(signed('https://uploader:hunter2pass@storage.clear.in/k'));

    expect(error.message).not.toContain('hunter2pass');
  });

  it.each([
    'ftp://storage.clear.in/k',
    'file:///etc/passwd',
    'ws://storage.clear.in/k',
    'data:text/plain,hello',
    'javascript:alert(1)',
  ])('refuses the scheme of %s', (raw) => {
    const error = refusal(raw);

    expect(error.message).toMatch(/scheme .* is not allowed/);
  });

  it.each(['/relative/path', 'storage.clear.in/k', '', 'https://'])(
    'refuses %j, which is not an absolute URL',
    (raw) => {
      const error = refusal(raw);

      expect(error.message).toBe('upload URL is not a valid absolute URL');
    },
  );

  it.each([
    ['a host off the list', 'https://attacker.example.net/k'],
    ['plain http', 'http://storage.clear.in/k'],
    ['userinfo', 'https://u:p@storage.clear.in/k'],
    ['an odd scheme', 'ftp://storage.clear.in/k'],
  ])('never puts the signature in the message (%s)', (_label, base) => {
    const error = refusal(signed(base));

    expect(error.message).not.toContain(SIGNATURE);
    expect(error.message).toContain('X-Amz-Expires=900');
  });
});
