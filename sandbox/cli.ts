/**
 * `npm run sandbox -- --port 4010 --job-duration-ms 3000`: runs the vendor sandbox until Ctrl-C or
 * SIGTERM, printing its URL, the credentials it accepts and the admin endpoints.
 */
import { parseArgs } from 'node:util';
import { type SandboxOptions, startSandbox } from './index';

const NUMERIC_OPTIONS = {
  port: 'port',
  'job-duration-ms': 'jobDurationMs',
  'error-file-ttl-seconds': 'errorFileTtlSeconds',
  'token-ttl-ms': 'tokenTtlMs',
  'mint-daily-limit': 'mintDailyLimit',
  'clevertap-max-concurrent': 'clevertapMaxConcurrent',
  'clevertap-latency-ms': 'clevertapLatencyMs',
  'clevertap-single-upload-limit': 'clevertapSingleUploadLimit',
  'min-part-size': 'minPartSize',
  'slack-calls-per-minute': 'slackCallsPerMinute',
} as const satisfies Record<string, keyof SandboxOptions>;

const USAGE = `Usage: npm run sandbox -- [options]
  --host <addr>                          listen address (default 127.0.0.1)
  --foreign-host <addr>                  the "somebody else's server" listener (default 127.0.0.2)
${Object.keys(NUMERIC_OPTIONS)
  .map((name) => `  --${name} <n>`)
  .join('\n')}
  --quiet                                do not log requests
  --help`;

function parseOptions(argv: string[]): SandboxOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      'foreign-host': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
      ...Object.fromEntries(Object.keys(NUMERIC_OPTIONS).map((name) => [name, { type: 'string' as const }])),
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const options: SandboxOptions = {};
  if (typeof values.host === 'string') options.host = values.host;
  if (typeof values['foreign-host'] === 'string') options.foreignHost = values['foreign-host'];
  for (const [flag, key] of Object.entries(NUMERIC_OPTIONS)) {
    const raw = values[flag as keyof typeof values];
    if (typeof raw !== 'string') continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`--${flag} must be a non-negative integer, got '${raw}'`);
    options[key] = value;
  }
  if (values.quiet !== true) options.log = (line) => console.log(`${new Date().toISOString()} ${line}`);
  return options;
}

async function main(): Promise<void> {
  let options: SandboxOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exit(2);
  }
  const sandbox = await startSandbox(options);
  console.log(`vendor sandbox listening on ${sandbox.url} (foreign host ${sandbox.foreignUrl})`);
  console.log(`credentials:\n${JSON.stringify(sandbox.credentials, null, 2)}`);
  console.log(
    [
      'admin endpoints:',
      `  GET    ${sandbox.url}/_sandbox/health`,
      `  GET    ${sandbox.url}/_sandbox/calls?vendor=&operation=&fileName=`,
      `  GET    ${sandbox.url}/_sandbox/uploads?vendor=&fileName=`,
      `  GET    ${sandbox.url}/_sandbox/foreign`,
      `  GET    ${sandbox.url}/_sandbox/faults`,
      `  POST   ${sandbox.url}/_sandbox/faults   (JSON fault spec)`,
      `  DELETE ${sandbox.url}/_sandbox/faults`,
      `  POST   ${sandbox.url}/_sandbox/reset`,
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing the sandbox`);
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

await main();
