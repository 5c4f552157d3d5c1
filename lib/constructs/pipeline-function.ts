import { join } from 'node:path';
import { type Duration, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type EventSourceMapping, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource, type SqsEventSourceProps } from 'aws-cdk-lib/aws-lambda-event-sources';
import { type BundlingOptions, LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { logGroupProps } from '../secure-defaults';
import { TRIM_SOURCE_MAP_SCRIPT } from './trim-source-map';

/**
 * How both functions are bundled: locally with the project's esbuild (no Docker), as an ES module,
 * minified, with source maps, and with the AWS SDK inside the bundle so the code that runs is the
 * code that was tested, not whatever SDK version the runtime happens to ship. After esbuild, the
 * source map is cut to the project’s own code (trim-source-map.ts): Node decodes the whole map
 * at start-up under --enable-source-maps.
 */
export const PIPELINE_BUNDLING: BundlingOptions = {
  forceDockerBundling: false,
  format: OutputFormat.ESM,
  target: 'node22',
  // Prefer packages' ESM builds: smaller bundles, better tree shaking.
  mainFields: ['module', 'main'],
  // CommonJS dependencies call require(); an ES module has none unless we make one.
  banner:
    "import { createRequire as __vendorIngestCreateRequire } from 'node:module'; const require = __vendorIngestCreateRequire(import.meta.url);",
  minify: true,
  // Not keeping class and function names saves ~1,700 name-setting calls per cold start. Our error
  // classes state their names (errors.ts); the cost: messages that print a class name (zod's, the
  // SDK's) show a minified one, and the SDK's test for its default NoOpLogger by class name no longer
  // matches, so the few SDK warnings that would fall back to console.warn are dropped with the rest.
  keepNames: false,
  sourceMap: true,
  sourcesContent: false,
  bundleAwsSDK: true,
  externalModules: [],
  logLevel: LogLevel.WARNING,
};

/**
 * Modules the bundles take from another file (esbuild `alias`), paths from the project root:
 * node:http through `process.getBuiltinModule`, not an ES-module import (see the file for why).
 */
export const PIPELINE_ALIASES: Readonly<Record<string, string>> = {
  http: 'functions/shared/node-http.cjs',
  'node:http': 'functions/shared/node-http.cjs',
};

/** Lambda runtime of both functions; matches the project's Node pin (package.json engines). */
export const PIPELINE_RUNTIME = Runtime.NODEJS_22_X;

export interface PipelineFunctionProps {
  /** Handler module, exporting `handler`. */
  readonly entry: string;
  /** Project root (holds package-lock.json and tsconfig.json). */
  readonly projectRoot: string;
  /** Physical function name. */
  readonly functionName: string;
  readonly description: string;
  /** MB. */
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Readonly<Record<string, string>>;
  /** Retention of the function's log group, days. */
  readonly logRetentionDays: number;
  /** Keep the log group when the stack is deleted. @default false */
  readonly retain?: boolean;
  /**
   * Files copied into the deployment package next to the handler: package file name → path at
   * synth (e.g. the routes document). They are part of the asset, so its hash changes with them.
   * @default none
   */
  readonly packagedFiles?: Readonly<Record<string, string>>;
}

/** POSIX shell single-quoting (CDK runs command hooks with `bash -c`). */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * A bundled Node.js function on arm64 with its own log group and its own role. The role starts
 * empty apart from writing to that log group (no AWS-managed policy); everything else is granted.
 */
export class PipelineFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;
  /** The SQS event source mappings added with {@link consume}. */
  public readonly eventSourceMappings: EventSourceMapping[] = [];

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', logGroupProps(props.logRetentionDays, props.retain ?? false));
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.functionName}: execution role`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      functionName: props.functionName,
      description: props.description,
      runtime: PIPELINE_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      environment: { ...props.environment },
      role: this.role,
      logGroup: this.logGroup,
      bundling: {
        ...PIPELINE_BUNDLING,
        esbuildArgs: Object.fromEntries(
          Object.entries(PIPELINE_ALIASES).map(([module, file]) => [
            `--alias:${module}`,
            join(props.projectRoot, file),
          ]),
        ),
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir, outputDir) => [
            // The Node running the synth (the project pins 22.23) runs the TypeScript directly. The
            // flag exists from Node 22.6 and is a no-op from 22.18, where type stripping is on by default.
            [
              process.execPath,
              '--experimental-strip-types',
              TRIM_SOURCE_MAP_SCRIPT,
              join(outputDir, 'index.mjs.map'),
            ]
              .map(shellQuote)
              .join(' '),
            ...Object.entries(props.packagedFiles ?? {}).map(
              ([name, source]) => `cp ${shellQuote(source)} ${shellQuote(join(outputDir, name))}`,
            ),
          ],
        },
      },
    });

    Validations.of(this.function).acknowledge(
      {
        id: 'AwsSolutions-L1',
        reason:
          'nodejs22.x is pinned on purpose: the project builds and tests on Node 22 (package.json engines, scripts/check-node.mjs); the runtime moves with that pin.',
      },
      {
        id: 'Serverless-LambdaLatestVersion',
        reason:
          'nodejs22.x is pinned on purpose: the project builds and tests on Node 22 (package.json engines, scripts/check-node.mjs); the runtime moves with that pin.',
      },
      {
        id: 'Serverless-LambdaDLQ',
        reason:
          'A function DLQ only catches asynchronous invocations; this function is invoked synchronously by SQS event sources, whose queues each have a redrive dead-letter queue.',
      },
      {
        id: 'Serverless-LambdaTracing',
        reason:
          'X-Ray is off by design: each delivery is correlated by its ledger entry and structured logs (bucket, key, versionId, route); tracing would add per-trace cost and X-Ray write actions on Resource * for a single-hop call.',
      },
    );
  }

  /**
   * Consumes an SQS queue with partial batch responses. On-failure destinations do not exist for
   * SQS event sources; the queue's redrive policy is the failure path.
   */
  public consume(
    queue: IQueue,
    props: Omit<SqsEventSourceProps, 'reportBatchItemFailures'>,
  ): EventSourceMapping {
    const before = new Set(this.function.node.children);
    this.function.addEventSource(new SqsEventSource(queue, { ...props, reportBatchItemFailures: true }));
    const mapping = this.function.node.children.find((c) => !before.has(c)) as EventSourceMapping | undefined;
    if (!mapping) throw new Error(`no event source mapping was added for ${queue.node.path}`);
    Validations.of(mapping).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'Lambda supports on-failure destinations only for stream and Kafka sources, not SQS; failed messages reach the queue’s own dead-letter queue through its redrive policy.',
    });
    this.eventSourceMappings.push(mapping);
    return mapping;
  }
}
