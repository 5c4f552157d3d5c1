// One emulated Lambda sandbox: a child process that imports the deployed handler module once (cold
// start) and runs invocations sent by the parent over IPC, one at a time. Plain JavaScript so it runs
// without a TypeScript loader, exactly like the deployed bundle.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [bundlePath, exportName, functionName] = process.argv.slice(2);
const startedImport = performance.now();
const mod = await import(pathToFileURL(bundlePath).href);
const initMs = performance.now() - startedImport;
const handler = mod[exportName];
if (typeof handler !== 'function') {
  process.send?.({ type: 'fatal', error: `${bundlePath} exports no ${exportName}` });
  process.exit(1);
}
process.send?.({ type: 'ready', initMs });

process.on('message', async (message) => {
  if (message?.type !== 'invoke') return;
  const deadline = Date.now() + message.timeoutMs;
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(message.memoryMb ?? 128),
    awsRequestId: message.requestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await handler(message.event, context);
    process.send?.({ type: 'result', id: message.id, result: result ?? null });
  } catch (error) {
    process.send?.({
      type: 'error',
      id: message.id,
      error: { name: error?.name ?? 'Error', message: String(error?.message ?? error) },
    });
  }
});
