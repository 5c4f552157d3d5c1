import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index';
import { auth, call, pollUntil, put, uniqueName, XLSX, XLSX_MIME } from './support';

const XLS_MIME = 'application/vnd.ms-excel';
const SALES_TEMPLATE = '618a5623836651c01c1498ad';
const HEADER = 'Invoice Number,Invoice Date,Customer GSTIN,Customer Name,Invoice Total\n';
const GOOD = ['27AAPFU0939F1ZV', '07AAGFF2194N1Z1', '33AADCS0472N1Z9'] as const;
const BAD = '33AADCS0472N1ZQ';

/** A sales register whose rows carry `gstins`, in order. */
function register(gstins: string[]): Buffer {
  const rows = gstins.map(
    (gstin, i) => `INV-${i + 1},02-03-2026,${gstin},"Buyer ${i + 1}, Ltd",${100 + i}.00`,
  );
  return Buffer.from(`${HEADER}${rows.join('\n')}\n`);
}

interface GstStatus {
  activityId: string;
  status: string;
  processingStats: Array<Record<string, number | string | null>> | null;
  fileError: { inputFileName: string; status: string; errorFileUrl: string | null } | null;
  errors: unknown[];
}

describe('sandbox register statistics and error files', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ jobDurationMs: 40 });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
  });

  /** Runs a GST sales register through presign, upload, trigger and status to its terminal answer. */
  async function gstOutcome(
    fileName: string,
    bytes: Buffer,
    type = 'CSV',
    target: Sandbox = sandbox,
  ): Promise<GstStatus> {
    const headers = auth(target).gst;
    const presigned = await call(
      `${target.url}/integration/v1/generatePreSign/sales?fileName=${encodeURIComponent(fileName)}`,
      { headers: { ...headers, fileContentType: type } },
    );
    const url = (presigned.body as { preSignedS3Url: string }).preSignedS3Url;
    expect((await put(url, bytes, type === 'XLSX' ? XLSX_MIME : XLS_MIME)).status).toBe(200);
    const created = await call(`${target.url}/integration/v1/ingest/file/sales`, {
      headers,
      json: {
        userInputArgs: { templateId: SALES_TEMPLATE },
        fileInfo: { s3FileUrl: url, userFileName: fileName },
      },
    });
    const { activityId } = created.body as { activityId: string };
    const seen = await pollUntil(
      async () =>
        (
          await call(`${target.url}/integration/v1/ingest/file/sales/status/${activityId}?tenant=GSTSALES`, {
            headers,
          })
        ).body as GstStatus,
      (body) => body.status !== 'ACTIVITY_CREATED' && body.status !== 'ACTIVITY_QUEUED',
    );
    return seen.at(-1) as GstStatus;
  }

  /** Runs one-integration files through pre-sign, upload, ingest and workflow status to the end. */
  async function oneOutcome(files: Array<{ fileName: string; bytes: Buffer }>) {
    const headers = auth(sandbox).one;
    const fileInfo = [];
    for (const { fileName, bytes } of files) {
      const presigned = await call(
        `${sandbox.url}/one-integration/action/pre-sign?filename=${encodeURIComponent(fileName)}`,
        { headers },
      );
      const { uploadUrl } = (presigned.body as { result: { uploadUrl: string } }).result;
      expect((await put(uploadUrl, bytes, 'text/csv')).status).toBe(200);
      fileInfo.push({ uploadUrl, filename: fileName, fileType: 'sales' });
    }
    const ingested = await call(`${sandbox.url}/one-integration/api/v1/ingest`, {
      headers,
      json: { fileInfo, templateType: 'SALES' },
    });
    const { taskId } = (ingested.body as { result: { taskId: string } }).result;
    const seen = await pollUntil(
      async () =>
        (await call(`${sandbox.url}/one-integration/workflow/status?taskId=${taskId}`, { headers })).body as {
          result: { workflowStatus: string; stats: unknown; errorFileUrl: string | null };
        },
      (body) => ['SUCCESS', 'FAILED'].includes(body.result.workflowStatus),
    );
    return { taskId, result: seen.at(-1)?.result };
  }

  describe('cleartax-gst', () => {
    it('completes a clean register with its statistics and no error file', async () => {
      // Prepare
      const fileName = uniqueName('csv');

      // Act
      const outcome = await gstOutcome(fileName, register([GOOD[0], GOOD[1], GOOD[2], GOOD[0]]));

      // Assess
      expect(outcome).toEqual({
        activityId: expect.any(String),
        status: 'ACTIVITY_COMPLETED',
        processingStats: [{ identifier: 'GSTSALES', totalDocumentCount: 4, validRows: 4, invalidRows: 0 }],
        fileError: null,
        errors: [],
      });
    });

    it('completes a register with one invalid GSTIN, linking a signed error file of that row', async () => {
      // Prepare
      const fileName = uniqueName('csv');

      // Act
      const outcome = await gstOutcome(fileName, register([GOOD[0], BAD, GOOD[1]]));
      const errorFileUrl = outcome.fileError?.errorFileUrl ?? '';
      const errorFile = await fetch(errorFileUrl);

      // Assess
      expect(outcome).toEqual({
        activityId: expect.any(String),
        status: 'ACTIVITY_COMPLETED',
        processingStats: [{ identifier: 'GSTSALES', totalDocumentCount: 3, validRows: 2, invalidRows: 1 }],
        fileError: { inputFileName: fileName, status: 'PARTIAL', errorFileUrl: expect.any(String) },
        errors: [],
      });
      const link = new URL(errorFileUrl);
      expect(link.origin).toBe(sandbox.url);
      expect(link.pathname).toBe(
        `/_s3/ingestion-errors/${outcome.activityId}/${fileName.replace(/\.csv$/, '')}-errors.csv`,
      );
      expect(link.searchParams.get('X-Amz-Expires')).toBe('3600');
      expect(errorFile.status).toBe(200);
      expect(errorFile.headers.get('content-type')).toBe('text/csv');
      expect(await errorFile.text()).toBe(
        `Row Number,GSTIN,Error Message\n3,${BAD},"check character is 'Q', expected '9'"\n`,
      );
      expect(sandbox.log.calls({ operation: 'download' })).toEqual([
        expect.objectContaining({ vendor: 'cleartax-gst', status: 200, fileName, ref: outcome.activityId }),
      ]);
    });

    it('refuses a tampered error-file link, and a link used with another method', async () => {
      // Prepare
      const outcome = await gstOutcome(uniqueName('csv'), register([GOOD[0], BAD]));
      const link = new URL(outcome.fileError?.errorFileUrl ?? '');
      const otherFile = new URL(link);
      otherFile.pathname = otherFile.pathname.replace('-errors.csv', '-other.csv');
      const longer = new URL(link);
      longer.searchParams.set('X-Amz-Expires', '604800');

      // Act
      const answers = await Promise.all([
        fetch(otherFile),
        fetch(longer),
        fetch(link, { method: 'PUT', body: 'x' }),
      ]);

      // Assess
      for (const answer of answers) {
        expect(answer.status).toBe(403);
        expect(await answer.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
      }
    });

    it('refuses an expired error-file link; the next status answer carries a fresh one', async () => {
      // Prepare
      const shortLived = await startSandbox({ jobDurationMs: 0, errorFileTtlSeconds: 1 });
      try {
        const outcome = await gstOutcome(uniqueName('csv'), register([BAD, GOOD[0]]), 'CSV', shortLived);
        const stale = outcome.fileError?.errorFileUrl ?? '';
        await new Promise((resolve) => setTimeout(resolve, 2100));

        // Act
        const expired = await fetch(stale);
        const again = (
          await call(
            `${shortLived.url}/integration/v1/ingest/file/sales/status/${outcome.activityId}?tenant=GSTSALES`,
            { headers: auth(shortLived).gst },
          )
        ).body as GstStatus;
        const fresh = await fetch(again.fileError?.errorFileUrl ?? '');

        // Assess
        expect(expired.status).toBe(403);
        expect(await expired.text()).toContain('<Message>Request has expired</Message>');
        expect(fresh.status).toBe(200);
      } finally {
        await shortLived.close();
      }
    });

    it('applies faults to the error-file GET, matched by the register it is about', async () => {
      // Prepare
      const fileName = uniqueName('csv');
      const outcome = await gstOutcome(fileName, register([GOOD[0], BAD]));
      sandbox.faults.inject({
        vendor: 'cleartax-gst',
        operation: 'download',
        match: { fileName },
        action: { kind: 'status', status: 503 },
      });

      // Act
      const faulted = await fetch(outcome.fileError?.errorFileUrl ?? '');
      const normal = await fetch(outcome.fileError?.errorFileUrl ?? '');

      // Assess
      expect(faulted.status).toBe(503);
      expect(normal.status).toBe(200);
      expect(sandbox.log.calls({ operation: 'download', fileName }).map((c) => [c.status, c.fault])).toEqual([
        [503, 'status'],
        [200, undefined],
      ]);
    });

    it('discards a register whose every row is invalid', async () => {
      // Prepare
      const fileName = uniqueName('csv');

      // Act
      const outcome = await gstOutcome(fileName, register([BAD, 'NOT-A-GSTIN']));
      const errorFile = await fetch(outcome.fileError?.errorFileUrl ?? '');

      // Assess
      expect(outcome).toEqual({
        activityId: expect.any(String),
        status: 'ACTIVITY_DISCARDED',
        processingStats: [{ identifier: 'GSTSALES', totalDocumentCount: 2, validRows: 0, invalidRows: 2 }],
        fileError: { inputFileName: fileName, status: 'FAILED', errorFileUrl: expect.any(String) },
        errors: [{ errorCode: 'NO_VALID_ROWS', errorMessage: 'All 2 rows were refused' }],
      });
      expect(await errorFile.text()).toBe(
        'Row Number,GSTIN,Error Message\n' +
          `2,${BAD},"check character is 'Q', expected '9'"\n` +
          '3,NOT-A-GSTIN,"GSTIN must be 15 characters, found 11"\n',
      );
    });

    it('judges every row of a register far larger than the sniffed head', async () => {
      // Prepare: about 3 MiB, one bad row near the end.
      const gstins = Array.from({ length: 40_000 }, (_, i) => GOOD[i % GOOD.length] as string);
      gstins[39_990] = BAD;

      // Act
      const outcome = await gstOutcome(uniqueName('csv'), register(gstins));

      // Assess
      expect(outcome.processingStats).toEqual([
        { identifier: 'GSTSALES', totalDocumentCount: 40_000, validRows: 39_999, invalidRows: 1 },
      ]);
      expect(await (await fetch(outcome.fileError?.errorFileUrl ?? '')).text()).toContain(`\n39992,${BAD},`);
    });

    it('marks the statistics of a spreadsheet as not computed', async () => {
      // Act
      const outcome = await gstOutcome(uniqueName('xlsx'), XLSX, 'XLSX');

      // Assess
      expect(outcome).toMatchObject({
        status: 'ACTIVITY_COMPLETED',
        processingStats: [
          { identifier: 'GSTSALES', totalDocumentCount: null, validRows: null, invalidRows: null },
        ],
        fileError: null,
      });
    });
  });

  describe('cleartax-one', () => {
    it('succeeds with statistics and no error file for a clean register', async () => {
      // Act
      const { result } = await oneOutcome([{ fileName: uniqueName('csv'), bytes: register([...GOOD]) }]);

      // Assess
      expect(result).toMatchObject({
        workflowStatus: 'SUCCESS',
        stats: { totalRows: 3, validRows: 3, invalidRows: 0 },
        errorFileUrl: null,
      });
    });

    it('succeeds with one refused row, listed per file in a signed error file', async () => {
      // Prepare
      const fileName = uniqueName('csv');

      // Act
      const { taskId, result } = await oneOutcome([{ fileName, bytes: register([GOOD[0], BAD]) }]);
      const link = new URL(result?.errorFileUrl ?? '');
      const errorFile = await fetch(link);

      // Assess
      expect(result).toMatchObject({
        workflowStatus: 'SUCCESS',
        stats: { totalRows: 2, validRows: 1, invalidRows: 1 },
      });
      expect(link.pathname.startsWith(`/_s3/one-integration-errors/${taskId}/`)).toBe(true);
      expect(await errorFile.text()).toBe(
        `File Name,Row Number,GSTIN,Error Message\n${fileName},3,${BAD},"check character is 'Q', expected '9'"\n`,
      );
    });

    it('fails a task whose every row is refused', async () => {
      // Act
      const { result } = await oneOutcome([{ fileName: uniqueName('csv'), bytes: register([BAD]) }]);

      // Assess
      expect(result).toMatchObject({
        workflowStatus: 'FAILED',
        stats: { totalRows: 1, validRows: 0, invalidRows: 1 },
        errorFileUrl: expect.stringContaining('/_s3/one-integration-errors/'),
      });
    });

    it('sums the statistics of a task of several files', async () => {
      // Act
      const { result } = await oneOutcome([
        { fileName: uniqueName('csv'), bytes: register([GOOD[0], BAD]) },
        { fileName: uniqueName('csv'), bytes: register([GOOD[1], GOOD[2]]) },
      ]);

      // Assess
      expect(result).toMatchObject({
        workflowStatus: 'SUCCESS',
        stats: { totalRows: 4, validRows: 3, invalidRows: 1 },
      });
    });
  });
});
