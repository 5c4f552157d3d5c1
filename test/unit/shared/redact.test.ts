import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Redactor, redactUrl, unsignedUrl } from '../../../functions/shared/redact';

const SIGNATURE = '9f2c1b7e4a5d6c3b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a291';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEJr//////////wEaCmFwLXNvdXRoLTEiRzBF';
const CREDENTIAL = 'ASIAXAMPLEKEYID12345/20240301/ap-south-1/s3/aws4_request';

/** A presigned S3 PUT URL as vendors hand them out. */
function presignedUrl(): string {
  const url = new URL('https://vendor-bucket.s3.ap-south-1.amazonaws.com/uploads/march%202024.xlsx');
  url.searchParams.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
  url.searchParams.set('X-Amz-Credential', CREDENTIAL);
  url.searchParams.set('X-Amz-Date', '20240301T100000Z');
  url.searchParams.set('X-Amz-Expires', '900');
  url.searchParams.set('X-Amz-Security-Token', SESSION_TOKEN);
  url.searchParams.set('X-Amz-SignedHeaders', 'content-type;host');
  url.searchParams.set('X-Amz-Signature', SIGNATURE);
  url.searchParams.set('uploadId', 'upl-42');
  return url.toString();
}

describe('redactUrl', () => {
  it('hides the signature, security token and credential but keeps the other parameters', () => {
    const raw = presignedUrl();

    const shown = new URL(redactUrl(raw));

    expect(shown.searchParams.get('X-Amz-Signature')).toBe('[REDACTED]');
    expect(shown.searchParams.get('X-Amz-Security-Token')).toBe('[REDACTED]');
    expect(shown.searchParams.get('X-Amz-Credential')).toBe('[REDACTED]');
    expect(shown.searchParams.get('X-Amz-Date')).toBe('20240301T100000Z');
    expect(shown.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(shown.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    expect(shown.searchParams.get('uploadId')).toBe('upl-42');
    expect(shown.pathname).toBe('/uploads/march%202024.xlsx');
  });

  it('matches parameter names whatever their case', () => {
    const raw = `https://b.s3.amazonaws.com/k?x-amz-signature=${SIGNATURE}&X-AMZ-SECURITY-TOKEN=${SESSION_TOKEN}`;

    const shown = redactUrl(raw);

    expect(shown).not.toContain(SIGNATURE);
    expect(shown).not.toContain(SESSION_TOKEN);
  });

  it('hides the other credential-bearing parameters (Azure sig, GCS signature, token)', () => {
    const raw =
      'https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=AzureSig123%3D&token=tok-5678&X-Goog-Signature=gsig9999';

    const shown = redactUrl(raw);

    expect(shown).not.toMatch(/AzureSig123|tok-5678|gsig9999/);
    expect(shown).toContain('sv=2022-11-02');
  });

  it('hides a password in the userinfo', () => {
    const raw = 'https://uploader:Pa55w0rd-XYZ@storage.example.com/inbox/file.csv';

    const shown = redactUrl(raw);

    expect(shown).not.toContain('Pa55w0rd-XYZ');
  });

  it('falls back to the unsigned URL for text that is not a URL', () => {
    const shown = redactUrl(`not a url?X-Amz-Signature=${SIGNATURE}`);

    expect(shown).toBe('not a url');
  });
});

describe('unsignedUrl', () => {
  it('drops the query string and the fragment', () => {
    const bare = unsignedUrl(`${presignedUrl()}#part`);

    expect(bare).toBe('https://vendor-bucket.s3.ap-south-1.amazonaws.com/uploads/march%202024.xlsx');
  });

  it('cuts at "?" or "#" for text that is not a URL', () => {
    expect(unsignedUrl('/relative/path?sig=abc')).toBe('/relative/path');
    expect(unsignedUrl('/relative/path#sig=abc')).toBe('/relative/path');
    expect(unsignedUrl('/relative/path')).toBe('/relative/path');
  });
});

describe('Redactor', () => {
  it('removes every occurrence of a registered secret', () => {
    const redactor = new Redactor();
    redactor.add('client-secret-123');

    const out = redactor.text('auth with client-secret-123 failed; retry client-secret-123');

    expect(out).toBe('auth with [REDACTED] failed; retry [REDACTED]');
  });

  it('ignores values shorter than 4 characters, undefined and null', () => {
    const redactor = new Redactor();
    redactor.add('abc', undefined, null, '');

    const out = redactor.text('abc def');

    expect(out).toBe('abc def');
  });

  it('registers every string leaf of a secret object', () => {
    const redactor = new Redactor();
    redactor.addObject({
      clientId: 'id-0001',
      nested: { password: 'hunter2!', list: ['tok-aaaa', 7, null] },
    });

    const out = redactor.text('id-0001 / hunter2! / tok-aaaa / 7');

    expect(out).toBe('[REDACTED] / [REDACTED] / [REDACTED] / 7');
  });

  it('removes signed query values from URLs in text', () => {
    const redactor = new Redactor();

    const out = redactor.text(`PUT ${presignedUrl()} answered 403 "SignatureDoesNotMatch"`);

    expect(out).not.toContain(SIGNATURE);
    expect(out).not.toContain(SESSION_TOKEN);
    expect(out).not.toContain('ASIAXAMPLEKEYID12345');
    expect(out).toContain('uploadId=upl-42');
    expect(out).toContain('answered 403 "SignatureDoesNotMatch"');
  });

  it('removes the whole of a longer secret that contains a shorter one registered before it', () => {
    const redactor = new Redactor();
    redactor.add('sk_live', 'sk_live_51HxTopSecretTail');

    const out = redactor.text('key sk_live_51HxTopSecretTail rejected');

    expect(out).not.toContain('TopSecretTail');
  });

  it('removes a registered secret that sits in a query parameter of a signed URL', () => {
    const redactor = new Redactor();
    const apiKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    redactor.add(apiKey);

    const out = redactor.text(
      `upload to https://h.example.com/u?apiKey=${apiKey}&X-Amz-Signature=${SIGNATURE} failed`,
    );

    expect(out).not.toContain(SIGNATURE);
    expect(out).not.toContain('bPxRfiCYEXAMPLEKEY');
  });

  it('never lets a registered secret of 4+ characters survive, wherever it sits (property)', () => {
    const context = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.constantFrom(
        'see https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&note=',
        'GET http://127.0.0.1:9000/',
        'https://',
        '"',
        ' ',
      ),
    );
    fc.assert(
      fc.property(
        context,
        fc.string({ unit: 'grapheme', minLength: 4, maxLength: 20 }),
        context,
        (before, secret, after) => {
          const redactor = new Redactor();
          redactor.add(secret);

          const out = redactor.text(`${before}${secret}${after}`);

          // The marker itself may contain the secret ("DACT"): look only at the text around markers.
          for (const piece of out.split('[REDACTED]')) expect(piece).not.toContain(secret);
        },
      ),
      { numRuns: 300 },
    );
  });
});
