import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeS3Key,
  encodeS3Key,
  type ParsedBody,
  type ParsedRecord,
  parseS3NotificationBody,
} from '../../../functions/shared/s3-event';

interface RecordFields {
  readonly key: string;
  readonly size?: number;
  readonly eventName?: string;
  readonly bucket?: string;
}

/** One record as S3 writes it into a notification; `key` is used as given (already encoded). */
function s3Record({ key, size = 42, eventName = 'ObjectCreated:Put', bucket = 'ingest' }: RecordFields) {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'ap-south-1',
    eventTime: '2024-03-01T10:00:00.000Z',
    eventName,
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'route-cleartax-sales',
      bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
      object: { key, size, eTag: 'd41d8cd98f00b204e9800998ecf8427e', versionId: 'v1', sequencer: '0065E1A0' },
    },
  };
}

function body(...records: unknown[]): string {
  return JSON.stringify({ Records: records });
}

function recordsOf(parsed: ParsedBody): readonly ParsedRecord[] {
  if (parsed.kind !== 'records') throw new Error(`expected records, got ${parsed.kind}`);
  return parsed.records;
}

function createdKey(record: ParsedRecord | undefined): string {
  if (record?.kind !== 'object-created') throw new Error(`expected object-created, got ${record?.kind}`);
  return record.object.key;
}

describe('parseS3NotificationBody', () => {
  it('returns every record of a body carrying several, in order', () => {
    const raw = body(
      s3Record({ key: 'cleartax/sales/a.csv' }),
      s3Record({ key: 'cleartax/sales/b.csv', size: 7 }),
    );

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(records).toHaveLength(2);
    expect(records[0]).toEqual({
      kind: 'object-created',
      object: {
        bucket: 'ingest',
        key: 'cleartax/sales/a.csv',
        size: 42,
        eTag: 'd41d8cd98f00b204e9800998ecf8427e',
        versionId: 'v1',
        sequencer: '0065E1A0',
        eventName: 'ObjectCreated:Put',
        eventTime: '2024-03-01T10:00:00.000Z',
      },
    });
    expect(createdKey(records[1])).toBe('cleartax/sales/b.csv');
  });

  it('recognises the s3:TestEvent S3 sends when a notification is configured', () => {
    const raw = JSON.stringify({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2024-03-01T10:00:00.000Z',
      Bucket: 'ingest',
      RequestId: 'ABC',
      HostId: 'xyz',
    });

    const parsed = parseS3NotificationBody(raw);

    expect(parsed).toEqual({ kind: 'test-event' });
  });

  it.each([
    ['a body that is not JSON', '{"Records": ['],
    ['an empty body', ''],
    ['JSON null', 'null'],
    ['a JSON array', '[]'],
    ['a JSON string', '"hello"'],
    ['an object without Records', '{"Message":"hi"}'],
    ['an empty Records array', '{"Records":[]}'],
    ['Records that is not an array', '{"Records":"x"}'],
  ])('reports %s as malformed', (_label, raw) => {
    const parsed = parseS3NotificationBody(raw);

    expect(parsed.kind).toBe('malformed');
  });

  it('marks a bad record malformed without losing the good records next to it', () => {
    const noKey = { ...s3Record({ key: 'x' }), s3: { bucket: { name: 'ingest' }, object: {} } };
    const notS3 = { ...s3Record({ key: 'cleartax/sales/c.csv' }), eventSource: 'aws:sqs' };
    const raw = body(s3Record({ key: 'cleartax/sales/a.csv' }), noKey, notS3, 'just a string');

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(records.map((r) => r.kind)).toEqual(['object-created', 'malformed', 'malformed', 'malformed']);
  });

  it('marks a record whose key is broken URL encoding malformed', () => {
    const raw = body(s3Record({ key: 'cleartax/sales/bad%E0%A4%A.csv' }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(records[0]?.kind).toBe('malformed');
  });

  it.each([
    'ObjectRemoved:Delete',
    'ObjectRestore:Completed',
    'LifecycleExpiration:Delete',
    's3:ReducedRedundancyLostObject',
  ])('skips a %s event', (eventName) => {
    const raw = body(s3Record({ key: 'cleartax/sales/a.csv', eventName }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(records[0]?.kind).toBe('skipped');
  });

  it.each([
    'ObjectCreated:Put',
    'ObjectCreated:Post',
    'ObjectCreated:Copy',
    'ObjectCreated:CompleteMultipartUpload',
  ])('accepts a %s event', (eventName) => {
    const raw = body(s3Record({ key: 'cleartax/sales/a.csv', eventName }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(createdKey(records[0])).toBe('cleartax/sales/a.csv');
  });

  it('skips the zero-byte object the console writes for "Create folder"', () => {
    const raw = body(s3Record({ key: 'cleartax/sales/2024/', size: 0 }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(records[0]).toEqual({
      kind: 'skipped',
      reason: 'folder placeholder',
      key: 'cleartax/sales/2024/',
    });
  });

  it('keeps an object with content even when its key ends with "/"', () => {
    const raw = body(s3Record({ key: 'cleartax/sales/odd-name/', size: 12 }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(createdKey(records[0])).toBe('cleartax/sales/odd-name/');
  });

  it('decodes "+" as a space and "%2B" as a plus', () => {
    const raw = body(s3Record({ key: 'cleartax/sales/march+2024+%2B+april.csv' }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(createdKey(records[0])).toBe('cleartax/sales/march 2024 + april.csv');
  });

  it('decodes unicode and "%" in keys', () => {
    const raw = body(s3Record({ key: 'inspect/%E0%A4%B0%E0%A4%BF%2F%C3%A9t%C3%A9+100%25+%F0%9F%93%B7.jpg' }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(createdKey(records[0])).toBe('inspect/रि/été 100% 📷.jpg');
  });

  it('decodes keys whose "/" arrives as %2F (as moto encodes them)', () => {
    const raw = body(s3Record({ key: 'clevertap%2Fcat-01%2Fmarch+list.csv' }));

    const records = recordsOf(parseS3NotificationBody(raw));

    expect(createdKey(records[0])).toBe('clevertap/cat-01/march list.csv');
  });

  it('never throws, whatever the body (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ Records: [v] })),
        ),
        (raw) => {
          const parsed = parseS3NotificationBody(raw);

          expect(['records', 'malformed', 'test-event']).toContain(parsed.kind);
        },
      ),
    );
  });

  it('gives back the exact key of a record built from an arbitrary key (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (key, size) => {
          const raw = body(s3Record({ key: encodeS3Key(key), size }));

          const [record] = recordsOf(parseS3NotificationBody(raw));

          if (key.endsWith('/') && size === 0) expect(record).toMatchObject({ kind: 'skipped', key });
          else expect(createdKey(record)).toBe(key);
        },
      ),
    );
  });
});

describe('decodeS3Key / encodeS3Key', () => {
  it('encodes as S3 does in notifications: "+" for a space, %2B for a plus, %25 for a percent', () => {
    const encoded = encodeS3Key("a b+c%d (1)!'*.csv");

    expect(encoded).toBe('a+b%2Bc%25d+%281%29%21%27%2A.csv');
  });

  it('throws URIError on a broken escape', () => {
    expect(() => decodeS3Key('bad%E0%A4%A')).toThrow(URIError);
  });

  it('round-trips arbitrary unicode keys (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), (key) => {
        expect(decodeS3Key(encodeS3Key(key))).toBe(key);
      }),
      { numRuns: 500 },
    );
  });

  it('never turns an encoded space into a plus (property)', () => {
    const keyWithoutPlus = fc
      .array(fc.oneof(fc.constant(' '), fc.constant('  '), fc.string({ unit: 'grapheme', maxLength: 5 })))
      .map((parts) => parts.join('').replaceAll('+', ''));
    fc.assert(
      fc.property(keyWithoutPlus, (key) => {
        const encoded = encodeS3Key(key);

        const decoded = decodeS3Key(encoded);

        expect(encoded).not.toMatch(/ |%20/);
        expect(decoded).not.toContain('+');
        expect(decoded.split(' ').length).toBe(key.split(' ').length);
      }),
    );
  });

  it('decodes a literal "+" in an encoded key only from %2B (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (key) => {
        const pluses = [...key].filter((c) => c === '+').length;

        const encoded = encodeS3Key(key);

        expect(encoded.match(/%2B/g)?.length ?? 0).toBe(pluses);
        expect([...decodeS3Key(encoded)].filter((c) => c === '+').length).toBe(pluses);
      }),
    );
  });
});
