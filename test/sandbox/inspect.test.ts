import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import { auth, call, put, sha256Base64, uniqueName } from './support';

const PNG_MIME = 'image/png';

describe('sandbox inspect', () => {
  let sandbox: Sandbox;
  let assetID: string;

  beforeAll(async () => {
    sandbox = await startSandbox();
    assetID = sandbox.credentials.inspect.assetIds[0] ?? '';
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
  });

  /** Bytes no other test uploads, so hash dedupe never crosses tests. */
  function uniqueBytes(): Buffer {
    return Buffer.from(`photo ${Math.random()} ${Date.now()}`);
  }

  function presign(body: Record<string, unknown>, headers: Record<string, string> = auth(sandbox).inspect) {
    return call(`${sandbox.url}/api/inspect/v1/file/upload/presigned`, { headers, json: body });
  }

  function presignFor(bytes: Buffer, name = uniqueName('png')) {
    return presign({ assetID, contentType: PNG_MIME, hash: sha256Base64(bytes), name, size: bytes.length });
  }

  function complete(id: string) {
    return call(`${sandbox.url}/api/inspect/v1/file/upload/complete`, {
      headers: auth(sandbox).inspect,
      json: { id },
    });
  }

  it('answers 201 with a 15-minute URL, then completes the uploaded file as UPLOADED', async () => {
    // Prepare
    const bytes = uniqueBytes();
    const created = await presignFor(bytes);
    const { presignedURL, id } = (created.body as { data: { presignedURL: string; id: string } }).data;

    // Act
    const uploaded = await put(presignedURL, bytes, PNG_MIME);
    const completed = await complete(id);

    // Assess
    expect(created.status).toBe(201);
    expect(new URL(presignedURL).searchParams.get('X-Amz-Expires')).toBe('900');
    expect(uploaded.status).toBe(200);
    expect(completed).toMatchObject({ status: 200, body: { data: { id, status: 'UPLOADED' } } });
  });

  it('answers 200 with only the id when a file with this hash is already uploaded and completed', async () => {
    // Prepare
    const bytes = uniqueBytes();
    const { presignedURL, id } = (
      (await presignFor(bytes)).body as { data: { presignedURL: string; id: string } }
    ).data;
    await put(presignedURL, bytes, PNG_MIME);
    await complete(id);

    // Act
    const again = await presignFor(bytes, 'renamed.png');

    // Assess
    expect(again).toMatchObject({ status: 200, body: { data: { id } } });
    expect(again.body).toEqual({ data: { id } });
  });

  it('still answers 201 for a hash that was presigned but never completed', async () => {
    // Prepare
    const bytes = uniqueBytes();
    const { presignedURL } = ((await presignFor(bytes)).body as { data: { presignedURL: string } }).data;
    await put(presignedURL, bytes, PNG_MIME);

    // Act
    const again = await presignFor(bytes);

    // Assess
    expect(again.status).toBe(201);
  });

  it('signs the URL for exactly the declared contentType', async () => {
    // Prepare
    const bytes = uniqueBytes();
    const { presignedURL } = ((await presignFor(bytes)).body as { data: { presignedURL: string } }).data;

    // Act
    const answer = await put(presignedURL, bytes, 'image/jpeg');

    // Assess
    expect(answer.status).toBe(403);
  });

  it('answers 401 with error and errorDescription without a valid bearer token', async () => {
    // Act
    const answer = await presign(
      { assetID, contentType: PNG_MIME, hash: sha256Base64(uniqueBytes()), name: 'a.png', size: 1 },
      { authorization: 'Bearer nope' },
    );

    // Assess
    expect(answer).toMatchObject({
      status: 401,
      body: { error: expect.any(String), errorDescription: expect.any(String) },
    });
  });

  it.each<[string, (bytes: Buffer) => string]>([
    ['the hex digest', (bytes) => createHash('sha256').update(bytes).digest('hex')],
    [
      'the base64 of the hex digest',
      (bytes) => Buffer.from(createHash('sha256').update(bytes).digest('hex')).toString('base64'),
    ],
    ['a 20-byte digest', (bytes) => createHash('sha1').update(bytes).digest('base64')],
  ])('answers 400 when the hash is %s', async (_case, hash) => {
    // Prepare
    const bytes = uniqueBytes();

    // Act
    const answer = await presign({
      assetID,
      contentType: PNG_MIME,
      hash: hash(bytes),
      name: 'a.png',
      size: bytes.length,
    });

    // Assess
    expect(answer).toMatchObject({ status: 400, body: { error: expect.any(String) } });
  });

  it.each<[string, Record<string, unknown>]>([
    ['assetID not a UUID', { assetID: 'asset-1' }],
    ['size 0', { size: 0 }],
    ['size not an integer', { size: 1.5 }],
    ['name missing', { name: undefined }],
    ['contentType not a MIME type', { contentType: 'png' }],
  ])('answers 400 with %s', async (_case, change) => {
    // Prepare
    const bytes = uniqueBytes();
    const body = {
      assetID,
      contentType: PNG_MIME,
      hash: sha256Base64(bytes),
      name: 'a.png',
      size: bytes.length,
      ...change,
    };

    // Act
    const answer = await presign(body);

    // Assess
    expect(answer.status).toBe(400);
  });

  it('answers 404 for an unknown asset', async () => {
    // Prepare
    const bytes = uniqueBytes();

    // Act
    const answer = await presign({
      assetID: '11111111-2222-4333-8444-555555555555',
      contentType: PNG_MIME,
      hash: sha256Base64(bytes),
      name: 'a.png',
      size: bytes.length,
    });

    // Assess
    expect(answer).toMatchObject({ status: 404, body: { error: expect.any(String) } });
  });

  it('refuses completion with 400 HashMismatch when the bytes differ from the declared hash', async () => {
    // Prepare
    const bytes = uniqueBytes();
    const { presignedURL, id } = (
      (await presignFor(bytes)).body as { data: { presignedURL: string; id: string } }
    ).data;
    const other = Buffer.from(bytes.map((b) => b ^ 1));
    await put(presignedURL, other, PNG_MIME);

    // Act
    const answer = await complete(id);

    // Assess
    expect(answer).toMatchObject({ status: 400, body: { error: 'HashMismatch' } });
  });

  it('refuses completion with 400 SizeMismatch when the size differs from the declared one', async () => {
    // Prepare
    const bytes = uniqueBytes();
    const { presignedURL, id } = (
      (await presignFor(bytes)).body as { data: { presignedURL: string; id: string } }
    ).data;
    await put(presignedURL, Buffer.concat([bytes, Buffer.from('!')]), PNG_MIME);

    // Act
    const answer = await complete(id);

    // Assess
    expect(answer).toMatchObject({ status: 400, body: { error: 'SizeMismatch' } });
  });

  it('refuses completion before any bytes were uploaded', async () => {
    // Prepare
    const { id } = ((await presignFor(uniqueBytes())).body as { data: { id: string } }).data;

    // Act
    const answer = await complete(id);

    // Assess
    expect(answer.status).toBe(400);
  });

  it('answers 404 to completing an unknown id', async () => {
    // Act
    const answer = await complete('3fa85f64-5717-4562-b3fc-2c963f66afa6');

    // Assess
    expect(answer.status).toBe(404);
  });

  it('answers 200 again when an already completed id is completed again', async () => {
    // Prepare
    const bytes = uniqueBytes();
    const { presignedURL, id } = (
      (await presignFor(bytes)).body as { data: { presignedURL: string; id: string } }
    ).data;
    await put(presignedURL, bytes, PNG_MIME);
    await complete(id);

    // Act
    const again = await complete(id);

    // Assess
    expect(again).toMatchObject({ status: 200, body: { data: { id, status: 'UPLOADED' } } });
  });
});
