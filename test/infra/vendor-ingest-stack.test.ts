import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { join } from 'node:path';
import { type CfnElement, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_ROUTES_FILE } from '../../functions/shared/deployment';
import { CompletionEnvSchema, DispatchEnvSchema, Env, parseEnv } from '../../functions/shared/env';
import { ResolvedRoutesSchema } from '../../functions/shared/routes/schema';
import { adapterFor } from '../../functions/vendors/registry';
import { type DeploymentConfig, loadDeploymentConfig } from '../../lib/config/deployment-config';
import { StackOutput } from '../../lib/stack-outputs';
import type { VendorIngestStack } from '../../lib/vendor-ingest-stack';
import {
  alarmMetrics,
  alarmsOn,
  getAtt,
  grants,
  grantsOf,
  nagFindings,
  ref,
  resolveIntrinsics,
  resourcesOfType,
  type Synthesized,
  synthesize,
} from './support';

const ACCOUNT = '123456789012';
const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

describe('VendorIngestStack (dev stage)', () => {
  let deployment: DeploymentConfig;
  let synth: Synthesized;
  let stack: VendorIngestStack;
  let template: Template;
  let id: (construct: IConstruct) => string;

  beforeAll(() => {
    deployment = loadDeploymentConfig('dev');
    synth = synthesize(deployment);
    stack = synth.stack;
    template = synth.template;
    id = (construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  });

  const intakeOf = (routeId: string) => {
    const queues = stack.intakeQueues.get(routeId);
    if (!queues) throw new Error(`no intake queue for ${routeId}`);
    return queues;
  };
  /** The synthesized asset directory a function's code comes from (what its deployment package holds). */
  const packageDirOf = (fn: { function: IConstruct }): string => {
    const manifest = JSON.parse(
      readFileSync(join(synth.outdir, `${stack.stackName}.assets.json`), 'utf8'),
    ) as {
      files: Record<string, { source: { path: string } }>;
    };
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    const { Code } = (functions[id(fn.function)]?.Properties ?? {}) as { Code: { S3Key: string } };
    return join(synth.outdir, manifest.files[Code.S3Key.replace(/\.zip$/, '')]?.source.path ?? '');
  };
  const functionEnv = (fnId: string): Record<string, unknown> =>
    (template.toJSON().Resources[fnId].Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;

  describe('ingest bucket', () => {
    it('blocks public access, encrypts with S3-managed keys and versions objects', () => {
      // Assess
      template.hasResource('AWS::S3::Bucket', {
        Properties: {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          VersioningConfiguration: { Status: 'Enabled' },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        },
        DeletionPolicy: 'Delete',
      });
      expect(
        resourcesOfType(template, 'AWS::S3::Bucket')[id(stack.ingest.bucket)]?.Properties
          ?.VersioningConfiguration,
      ).toEqual({
        Status: 'Enabled',
      });
    });

    it('denies requests without TLS and below TLS 1.2', () => {
      // Assess
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: ref(id(stack.ingest.bucket)),
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
            }),
          ]),
        },
      });
    });

    it('writes server access logs to a separate private bucket that expires them', () => {
      // Prepare
      const logBucketId = id(stack.ingest.accessLogBucket);

      // Assess
      template.hasResourceProperties('AWS::S3::Bucket', {
        LoggingConfiguration: { DestinationBucketName: ref(logBucketId), LogFilePrefix: 'ingest/' },
      });
      const logBucket = resourcesOfType(template, 'AWS::S3::Bucket')[logBucketId];
      expect(logBucket?.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: {
          Rules: [{ ExpirationInDays: deployment.config.logRetentionDays, Status: 'Enabled' }],
        },
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: ref(logBucketId),
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Action: 's3:PutObject',
              Principal: { Service: 'logging.s3.amazonaws.com' },
            }),
          ]),
        },
      });
    });

    it('expires noncurrent versions after the configured number of days', () => {
      // Assess
      expect(
        resourcesOfType(template, 'AWS::S3::Bucket')[id(stack.ingest.bucket)]?.Properties
          ?.LifecycleConfiguration,
      ).toEqual({
        Rules: [
          {
            Id: 'expire-noncurrent-versions',
            Status: 'Enabled',
            NoncurrentVersionExpiration: { NoncurrentDays: deployment.config.noncurrentVersionExpiryDays },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
          },
        ],
      });
    });

    it('empties both buckets on delete in a stage that does not retain data', () => {
      // Assess
      template.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    });
  });

  describe('S3 notifications', () => {
    it("send ObjectCreated:* under each route's filter prefix to that route's intake queue, and nothing else", () => {
      // Prepare
      const expected = deployment.routes
        .map((route) => ({
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: route.filterPrefix }] } },
          QueueArn: getAtt(id(intakeOf(route.id).queue)),
        }))
        .sort(byJson);

      // Act
      const [notifications] = Object.values(resourcesOfType(template, 'Custom::S3BucketNotifications'));
      const config = notifications?.Properties?.NotificationConfiguration as {
        QueueConfigurations: unknown[];
      };

      // Assess
      expect(notifications?.Properties?.BucketName).toEqual(ref(id(stack.ingest.bucket)));
      expect(Object.keys(config)).toEqual(['QueueConfigurations']);
      expect([...config.QueueConfigurations].sort(byJson)).toEqual(expected);
      expect(deployment.routes.find((r) => r.id === 'clevertap-catalogs')?.filterPrefix).toBe('clevertap/');
    });
  });

  describe('queues', () => {
    it('give every intake queue and the completion queue its own DLQ with the configured maxReceiveCount', () => {
      // Prepare
      const pairs = [
        ...deployment.routes.map((r) => ({
          queues: intakeOf(r.id),
          maxReceiveCount: deployment.config.dispatch.maxReceiveCount,
        })),
        { queues: stack.completionQueues, maxReceiveCount: deployment.config.completion.maxReceiveCount },
      ];
      const all = resourcesOfType(template, 'AWS::SQS::Queue');

      // Assess
      expect(Object.keys(all)).toHaveLength(2 * pairs.length);
      for (const { queues, maxReceiveCount } of pairs) {
        expect(all[id(queues.queue)]?.Properties?.RedrivePolicy).toEqual({
          deadLetterTargetArn: getAtt(id(queues.deadLetterQueue)),
          maxReceiveCount,
        });
      }
      const targets = pairs.map((p) => id(p.queues.deadLetterQueue));
      expect(new Set(targets).size).toBe(pairs.length);
    });

    it('keep dead-lettered messages for 14 days', () => {
      // Prepare
      const all = resourcesOfType(template, 'AWS::SQS::Queue');
      const dlqIds = Object.values(all)
        .map(
          (q) =>
            (q.Properties?.RedrivePolicy as { deadLetterTargetArn?: { 'Fn::GetAtt': [string] } } | undefined)
              ?.deadLetterTargetArn,
        )
        .filter((arn) => arn !== undefined)
        .map((arn) => arn['Fn::GetAtt'][0]);

      // Assess
      expect(dlqIds).toHaveLength(deployment.routes.length + 1);
      for (const dlqId of dlqIds) {
        expect(all[dlqId]?.Properties?.MessageRetentionPeriod).toBe(14 * 24 * 3600);
        expect(all[dlqId]?.Properties?.RedrivePolicy).toBeUndefined();
      }
    });

    it('encrypt every queue with SQS-managed keys and refuse non-TLS access', () => {
      // Prepare
      const all = resourcesOfType(template, 'AWS::SQS::Queue');
      const policies = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'));

      // Assess
      for (const [queueId, queue] of Object.entries(all)) {
        expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
        const denies = policies.filter(
          (p) =>
            JSON.stringify(p.Properties?.Queues) === JSON.stringify([ref(queueId)]) &&
            JSON.stringify(p.Properties?.PolicyDocument).includes('"aws:SecureTransport":"false"'),
        );
        expect(denies, queueId).toHaveLength(1);
      }
    });

    it('set visibility to 6 × the consuming function timeout', () => {
      // Prepare
      const all = resourcesOfType(template, 'AWS::SQS::Queue');
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');
      const mappings = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping'));

      // Assess
      expect(mappings).toHaveLength(deployment.routes.length + 1);
      for (const mapping of mappings) {
        const { EventSourceArn, FunctionName } = (mapping.Properties ?? {}) as {
          EventSourceArn: { 'Fn::GetAtt': [string] };
          FunctionName: { Ref: string };
        };
        const queueId = EventSourceArn['Fn::GetAtt'][0];
        const fnId = FunctionName.Ref;
        const visibility = all[queueId]?.Properties?.VisibilityTimeout as number;
        const timeout = functions[fnId]?.Properties?.Timeout as number;
        expect(visibility, queueId).toBe(6 * timeout);
      }
      expect(all[id(intakeOf('cleartax-sales').queue)]?.Properties?.VisibilityTimeout).toBe(6 * 300);
      expect(all[id(stack.completionQueues.queue)]?.Properties?.VisibilityTimeout).toBe(6 * 60);
    });
  });

  describe('functions', () => {
    it('run bundled Node.js 22 on arm64 with the configured memory and timeout', () => {
      // Prepare
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');

      // Assess
      for (const [fn, settings] of [
        [stack.dispatch, deployment.config.dispatch],
        [stack.completion, deployment.config.completion],
      ] as const) {
        expect(functions[id(fn.function)]?.Properties).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          MemorySize: settings.memoryMb,
          Timeout: settings.timeoutSeconds,
          LoggingConfig: { LogGroup: ref(id(fn.logGroup)) },
          Role: getAtt(id(fn.role)),
        });
      }
    });

    it('write to their own log groups with the configured retention', () => {
      // Assess
      for (const fn of [stack.dispatch, stack.completion]) {
        const group = resourcesOfType(template, 'AWS::Logs::LogGroup')[id(fn.logGroup)];
        expect(group?.Properties?.RetentionInDays).toBe(deployment.config.logRetentionDays);
        expect(group?.DeletionPolicy).toBe('Delete');
      }
    });

    it('consume each intake queue with partial batch responses and its MaximumConcurrency', () => {
      // Assess
      for (const route of deployment.routes) {
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          EventSourceArn: getAtt(id(intakeOf(route.id).queue)),
          FunctionName: ref(id(stack.dispatch.function)),
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          BatchSize: deployment.config.dispatch.batchSize,
          MaximumBatchingWindowInSeconds: Match.absent(),
          ScalingConfig: {
            MaximumConcurrency:
              route.id === 'clevertap-catalogs' ? 2 : deployment.config.dispatch.maxConcurrency,
          },
        });
      }
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: getAtt(id(stack.completionQueues.queue)),
        FunctionName: ref(id(stack.completion.function)),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: deployment.config.completion.batchSize,
        ScalingConfig: { MaximumConcurrency: deployment.config.completion.maxConcurrency },
      });
    });

    it('get exactly the environment their schemas require, and no local-only switches', () => {
      // Prepare
      const shared = [
        Env.STAGE,
        Env.COMPLETION_QUEUE_URL,
        Env.COMPLETION_DLQ_URL,
        Env.MAX_RECEIVE_COUNT,
        Env.RECORD_CONCURRENCY,
        Env.STATE_TABLE,
        Env.LEDGER_RETENTION_DAYS,
        Env.SECRET_CACHE_SECONDS,
        Env.VENDOR_TIMEOUT_MS,
        Env.RETRY_BASE_SECONDS,
        Env.RETRY_MAX_SECONDS,
        Env.OUTAGE_HORIZON_SECONDS,
        Env.BREAKER_FAILURE_THRESHOLD,
        Env.BREAKER_PROBE_SECONDS,
        Env.WAIT_SECONDS,
        Env.ATTENTION_AFTER_SECONDS,
        Env.STALL_TIMEOUT_SECONDS,
        Env.EVENT_BUS_NAME,
        Env.STACK_NAME,
        Env.RESULTS_PREFIX,
        Env.ERROR_FILE_MAX_BYTES,
        Env.TAG_OBJECTS,
        Env.STATUS_POLL_FIRST_SECONDS,
        Env.STATUS_POLL_MAX_SECONDS,
        Env.POWERTOOLS_SERVICE_NAME,
        Env.POWERTOOLS_METRICS_NAMESPACE,
        'POWERTOOLS_LOG_LEVEL',
        'NODE_OPTIONS',
      ];

      // Act
      const dispatchEnv = functionEnv(id(stack.dispatch.function));
      const completionEnv = functionEnv(id(stack.completion.function));

      // Assess
      expect(Object.keys(dispatchEnv).sort()).toEqual([...shared, Env.COMPLETE_INLINE].sort());
      expect(Object.keys(completionEnv).sort()).toEqual([...shared].sort());
      for (const env of [dispatchEnv, completionEnv]) {
        expect(env).toMatchObject({
          [Env.POWERTOOLS_SERVICE_NAME]: 'vendor-ingest',
          [Env.POWERTOOLS_METRICS_NAMESPACE]: 'VendorIngest',
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
          NODE_OPTIONS: '--enable-source-maps',
        });
        expect(env).not.toHaveProperty(Env.FAILPOINTS);
        expect(env).not.toHaveProperty(Env.S3_FORCE_PATH_STYLE);
      }
    });

    it('get an environment that passes the functions’ own cold-start validation, every value from the stage', () => {
      // Prepare
      const where = { region: 'ap-south-1', account: ACCOUNT };
      const resolveAll = (env: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(env).map(([k, v]) => [k, resolveIntrinsics(template, v, where)]));

      // Act
      const dispatch = parseEnv(DispatchEnvSchema, resolveAll(functionEnv(id(stack.dispatch.function))));
      const completion = parseEnv(
        CompletionEnvSchema,
        resolveAll(functionEnv(id(stack.completion.function))),
      );

      // Assess
      const url = (name: string) => `https://sqs.ap-south-1.amazonaws.com/${ACCOUNT}/${name}`;
      const { config } = deployment;
      expect(dispatch[Env.COMPLETION_QUEUE_URL]).toBe(url('vendor-ingest-dev-completion'));
      expect(dispatch[Env.MAX_RECEIVE_COUNT]).toBe(config.dispatch.maxReceiveCount);
      expect(dispatch[Env.RECORD_CONCURRENCY]).toBe(config.dispatch.recordConcurrency);
      expect(completion[Env.COMPLETION_DLQ_URL]).toBe(url('vendor-ingest-dev-completion-dlq'));
      expect(completion[Env.MAX_RECEIVE_COUNT]).toBe(config.completion.maxReceiveCount);
      expect(completion[Env.RECORD_CONCURRENCY]).toBe(config.completion.recordConcurrency);
      expect(completion[Env.STATUS_POLL_FIRST_SECONDS]).toBe(config.statusPollFirstSeconds);
      expect(completion[Env.STATUS_POLL_MAX_SECONDS]).toBe(config.statusPollMaxSeconds);
      for (const env of [dispatch, completion]) {
        expect(env[Env.STATE_TABLE]).toBe('vendor-ingest-dev-state');
        expect(env[Env.LEDGER_RETENTION_DAYS]).toBe(config.ledgerRetentionDays);
        expect(env[Env.SECRET_CACHE_SECONDS]).toBe(config.secretCacheSeconds);
        expect(env[Env.VENDOR_TIMEOUT_MS]).toBe(config.vendorTimeoutMs);
      }
    });

    it('carry the resolved routes in their deployment package, not in the environment', () => {
      for (const fn of [stack.dispatch, stack.completion]) {
        // Act
        const packaged = readFileSync(join(packageDirOf(fn), BUNDLED_ROUTES_FILE), 'utf8');

        // Assess
        expect(ResolvedRoutesSchema.parse(JSON.parse(packaged))).toEqual(deployment.routesDocument);
        expect(JSON.stringify(functionEnv(id(fn.function)))).not.toContain(
          deployment.routes[0]?.prefix ?? '?',
        );
      }
    });

    it('bundle one copy of every package (no second Powertools or SDK core inside)', () => {
      for (const fn of [stack.dispatch, stack.completion]) {
        const { sources } = JSON.parse(readFileSync(join(packageDirOf(fn), 'index.mjs.map'), 'utf8')) as {
          sources: string[];
        };

        // Act: where each package was bundled from (a nested node_modules is a second copy).
        const installs = new Map<string, Set<string>>();
        for (const source of sources) {
          const match = /^(.*node_modules\/)((?:@[^/]+\/)?[^/]+)\//.exec(source);
          if (!match?.[1] || !match[2]) continue;
          const from = installs.get(match[2]) ?? new Set<string>();
          from.add(match[1]);
          installs.set(match[2], from);
        }

        // Assess
        const twice = [...installs].filter(([, from]) => from.size > 1).map(([name]) => name);
        expect(installs.size, fn.node.id).toBeGreaterThan(10);
        expect(twice, fn.node.id).toEqual([]);
      }
    });

    it('ship ES-module bundles with the AWS SDK inside and a source map', () => {
      // Prepare
      const manifest = JSON.parse(
        readFileSync(join(synth.outdir, `${stack.stackName}.assets.json`), 'utf8'),
      ) as {
        files: Record<string, { source: { path: string } }>;
      };
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');

      for (const fn of [stack.dispatch, stack.completion]) {
        // Act
        const { Code } = (functions[id(fn.function)]?.Properties ?? {}) as { Code: { S3Key: string } };
        const s3Key = Code.S3Key;
        const asset = manifest.files[s3Key.replace(/\.zip$/, '')];
        expect(asset, s3Key).toBeDefined();
        const dir = join(synth.outdir, asset?.source.path ?? '');
        const code = readFileSync(join(dir, 'index.mjs'), 'utf8');

        // Assess
        expect(
          code.startsWith("import { createRequire as __vendorIngestCreateRequire } from 'node:module';"),
        ).toBe(true);
        expect(code).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}/);
        expect(code).not.toMatch(/\bmodule\.exports\s*=/);
        // The SDK is bundled (its clients name themselves in strings), not imported from the runtime.
        expect(code).toContain('SQSClient');
        expect(code).toContain('DynamoDBClient');
        expect(code).toContain('SecretsManagerClient');
        expect(code).not.toMatch(/(?:from\s*|require\(|import\()["']@aws-sdk\/(?:client|lib)-/);
        expect(code).toMatch(/sourceMappingURL=index\.mjs\.map\s*$/);
        expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      }
    });

    it('keep the cold start lean: node:http without an ES-module facade, a source map of our code only', () => {
      for (const fn of [stack.dispatch, stack.completion]) {
        // Prepare
        const dir = packageDirOf(fn);
        const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
        const raw = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as SourceMapPayload;
        const map = new SourceMap(raw);
        const at = (text: string) => {
          const index = code.indexOf(text);
          expect(index, text).toBeGreaterThan(-1);
          const before = code.slice(0, index);
          const line = before.split('\n').length - 1;
          return map.findEntry(line, index - (before.lastIndexOf('\n') + 1)) as { originalSource?: string };
        };

        // Assess: node:http comes through the alias, never an ES import (whose facade loads undici).
        expect(code).not.toMatch(/from\s*["'](?:node:)?http["']/);
        expect(code).toContain('getBuiltinModule("node:http")');
        // Our code is mapped; the SDK's is explicitly unmapped, though still listed in `sources`.
        expect(at('lease lost while').originalSource).toMatch(/functions\/shared\/errors\.ts$/);
        expect(at('differs from SQSClient resolved endpoint').originalSource).toBeUndefined();
        expect(raw.sources.some((source) => source.includes('node_modules/@aws-sdk/client-sqs/'))).toBe(true);
      }
    });
  });

  describe('IAM', () => {
    const secretArn = (name: string) => ({
      'Fn::Join': [
        '',
        ['arn:aws:secretsmanager:ap-south-1:', { Ref: 'AWS::AccountId' }, `:secret:${name}-??????`],
      ],
    });
    // Only what the code calls: the queue URLs come from the environment.
    const SEND = ['sqs:SendMessage'];
    const CONSUME = [
      'sqs:ReceiveMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
    ];
    // Exactly the calls the code makes (functions/shared/state/*): conditional UpdateItem and GetItem.
    // Listings (Query) are the operator's.
    const TABLE = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];
    const tableResources = () => [getAtt(id(stack.state.table))];
    const secretResources = () => [...new Set(deployment.routes.map((r) => r.secretId))].map(secretArn);
    // Both functions decide outcomes: events on the one bus, result documents only under the results
    // prefix, the outcome tags only on objects under route prefixes.
    const writeBack = () => {
      const bucket = getAtt(id(stack.ingest.bucket));
      return [
        ...grants(
          ['events:PutEvents'],
          [
            {
              'Fn::Join': [
                '',
                ['arn:aws:events:ap-south-1:', { Ref: 'AWS::AccountId' }, ':event-bus/default'],
              ],
            },
          ],
        ),
        ...grants(
          ['s3:PutObject'],
          [{ 'Fn::Join': ['', [bucket, `/${deployment.config.results.prefix}*`]] }],
        ),
        ...grants(
          ['s3:GetObjectVersionTagging', 's3:PutObjectVersionTagging'],
          deployment.routes.map((r) => ({ 'Fn::Join': ['', [bucket, `/${r.filterPrefix}*`]] })),
        ),
      ];
    };
    const expectExactly = (actual: string[], expected: string[]) =>
      expect(actual).toEqual([...new Set(expected)].sort());

    it('lets dispatch read routed objects, consume and re-send to its intake queues, send to completion, its DLQ and their own DLQs, write back outcomes, and nothing else', () => {
      // Prepare
      const bucket = id(stack.ingest.bucket);
      const intake = deployment.routes.map((r) => intakeOf(r.id));
      const expected = [
        ...grants(['logs:CreateLogStream', 'logs:PutLogEvents'], [getAtt(id(stack.dispatch.logGroup))]),
        ...grants(
          // GetObject of a version (functions/shared/upload/s3-source.ts).
          ['s3:GetObject', 's3:GetObjectVersion'],
          deployment.routes.map((r) => ({ 'Fn::Join': ['', [getAtt(bucket), `/${r.filterPrefix}*`]] })),
        ),
        ...grants(['s3:ListBucket'], [getAtt(bucket)]),
        // Matching a notification without a version id to its version, only under route prefixes.
        ...grants(['s3:ListBucketVersions'], [getAtt(bucket)], {
          StringLike: {
            's3:prefix': [...new Set(deployment.routes.map((r) => `${r.filterPrefix}*`))].sort(),
          },
        }),
        ...grants(
          CONSUME,
          intake.map((q) => getAtt(id(q.queue))),
        ),
        // Its intake queues too: a file waiting out a vendor outage is re-sent there with a delay.
        // The completion DLQ: a completion made at once and refused for good is parked there.
        ...grants(SEND, [
          getAtt(id(stack.completionQueues.queue)),
          getAtt(id(stack.completionQueues.deadLetterQueue)),
          ...intake.map((q) => getAtt(id(q.deadLetterQueue))),
          ...intake.map((q) => getAtt(id(q.queue))),
        ]),
        ...grants(TABLE, tableResources()),
        ...grants(['secretsmanager:GetSecretValue'], secretResources()),
        ...writeBack(),
      ];

      // Act
      const actual = grantsOf(template, 'DispatchRoleDefaultPolicy');

      // Assess
      expectExactly(actual, expected);
    });

    it('lets completion consume and re-send to its queue, send to its DLQ, write back outcomes, and nothing else', () => {
      // Prepare
      const completionQueue = getAtt(id(stack.completionQueues.queue));
      const expected = [
        ...grants(['logs:CreateLogStream', 'logs:PutLogEvents'], [getAtt(id(stack.completion.logGroup))]),
        ...grants([...CONSUME, ...SEND], [completionQueue]),
        ...grants(SEND, [getAtt(id(stack.completionQueues.deadLetterQueue))]),
        ...grants(TABLE, tableResources()),
        ...grants(['secretsmanager:GetSecretValue'], secretResources()),
        ...writeBack(),
      ];

      // Act
      const actual = grantsOf(template, 'CompletionRoleDefaultPolicy');

      // Assess
      expectExactly(actual, expected);
    });

    it('gives the function roles no AWS-managed policies', () => {
      // Assess
      for (const fn of [stack.dispatch, stack.completion]) {
        const role = resourcesOfType(template, 'AWS::IAM::Role')[id(fn.role)];
        expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
        expect(role?.Properties?.AssumeRolePolicyDocument).toMatchObject({
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
          ],
        });
      }
    });
  });

  describe('state table', () => {
    it('is an on-demand pk/sk table with PITR, TTL on expiresAt, gsi1 by state and gsi2 by route', () => {
      // Assess
      template.hasResource('AWS::DynamoDB::Table', {
        Properties: {
          TableName: 'vendor-ingest-dev-state',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: Match.arrayWith([
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
            { AttributeName: 'gsi1pk', AttributeType: 'S' },
            { AttributeName: 'gsi1sk', AttributeType: 'S' },
            { AttributeName: 'gsi2pk', AttributeType: 'S' },
            { AttributeName: 'gsi2sk', AttributeType: 'S' },
          ]),
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
          GlobalSecondaryIndexes: [
            {
              IndexName: 'gsi1',
              KeySchema: [
                { AttributeName: 'gsi1pk', KeyType: 'HASH' },
                { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
            {
              IndexName: 'gsi2',
              KeySchema: [
                { AttributeName: 'gsi2pk', KeyType: 'HASH' },
                { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
        },
        DeletionPolicy: 'Delete',
      });
    });
  });

  describe('monitoring', () => {
    const vendors = () => [...new Set(deployment.routes.map((r) => r.vendor))];
    const alarms = () => Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));

    it('creates the whole alarm set, each notifying the alarm topic', () => {
      // Prepare
      const queues = deployment.routes.length + 1;
      // Per queue: DLQ and age; per function: errors and throttles; per vendor: uncertain completion,
      // failure rate and breaker; per vendor with polled jobs (the two ClearTax flows): verdict unknown
      // and vendor-side failure rate; one mint budget for the ClearTax token family.
      const expectedCount = queues * 2 + 2 * 2 + vendors().length * 3 + 2 * 2 + 1;

      // Assess
      expect(alarms()).toHaveLength(expectedCount);
      for (const alarm of alarms()) {
        expect(alarm.Properties?.AlarmActions).toEqual([ref(id(stack.monitoring.alarmTopic))]);
      }
    });

    it('alarms on any message in any dead-letter queue', () => {
      // Prepare
      const dlqs = [
        ...deployment.routes.map((r) => intakeOf(r.id).deadLetterQueue),
        stack.completionQueues.deadLetterQueue,
      ];

      // Assess
      for (const dlq of dlqs) {
        const found = alarmsOn(template, 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', [
          { Name: 'QueueName', Value: getAtt(id(dlq), 'QueueName') },
        ]);
        expect(found, id(dlq)).toHaveLength(1);
        expect(found[0]).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
      }
    });

    it('alarms on the age of the oldest message of every queue', () => {
      // Assess
      for (const queue of [
        ...deployment.routes.map((r) => intakeOf(r.id).queue),
        stack.completionQueues.queue,
      ]) {
        const found = alarmsOn(template, 'AWS/SQS', 'ApproximateAgeOfOldestMessage', [
          { Name: 'QueueName', Value: getAtt(id(queue), 'QueueName') },
        ]);
        expect(found, id(queue)).toHaveLength(1);
        expect(found[0]).toMatchObject({
          Threshold: deployment.config.alarms.maxQueueAgeSeconds,
          ComparisonOperator: 'GreaterThanThreshold',
        });
      }
    });

    it('alarms on errors and throttles of both functions', () => {
      // Assess
      for (const fn of [stack.dispatch, stack.completion]) {
        for (const metric of ['Errors', 'Throttles']) {
          const found = alarmsOn(template, 'AWS/Lambda', metric, [
            { Name: 'FunctionName', Value: ref(id(fn.function)) },
          ]);
          expect(found, `${metric} ${id(fn.function)}`).toHaveLength(1);
          expect(found[0]).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
        }
      }
    });

    it('alarms per vendor on one uncertain completion and on the failure rate', () => {
      // Assess
      for (const vendor of vendors()) {
        const dimensions = [{ Name: 'Vendor', Value: vendor }];
        const uncertain = alarmsOn(template, 'VendorIngest', 'CompletionUncertain', dimensions);
        expect(uncertain, vendor).toHaveLength(1);
        expect(uncertain[0]).toMatchObject({
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        });
        const failureRate = alarmsOn(template, 'VendorIngest', 'FilesFailed', dimensions);
        expect(failureRate, vendor).toHaveLength(1);
        expect(
          alarmMetrics(failureRate[0] ?? {})
            .map((m) => m.MetricName)
            .sort(),
        ).toEqual(['FilesCompleted', 'FilesFailed']);
        expect(failureRate[0]).toMatchObject({
          Threshold: deployment.config.alarms.maxFailureRatePercent,
          ComparisonOperator: 'GreaterThanThreshold',
        });
      }
    });

    it('alarms per vendor while its circuit breaker is open, keeping state through the silence between changes', () => {
      for (const vendor of vendors()) {
        const found = alarmsOn(template, 'VendorIngest', 'VendorUnavailable', [
          { Name: 'Vendor', Value: vendor },
        ]);
        expect(found, vendor).toHaveLength(1);
        expect(found[0]).toMatchObject({
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'ignore',
        });
      }
    });

    it('alarms per polled vendor on any verdict unknown at the deadline and on its share of failed jobs', () => {
      const polled = [
        ...new Set(
          deployment.routes.filter((r) => r.pollStatus && adapterFor(r.vendor)?.status).map((r) => r.vendor),
        ),
      ];
      expect(polled.sort()).toEqual(['cleartax-gst', 'cleartax-one']);
      for (const vendor of vendors()) {
        const dimensions = [{ Name: 'Vendor', Value: vendor }];
        const unknown = alarmsOn(template, 'VendorIngest', 'VendorStatusUnknown', dimensions);
        const rate = alarmsOn(template, 'VendorIngest', 'VendorJobFailed', dimensions);
        if (!polled.includes(vendor)) {
          // CleverTap and Inspect end at the completion answer: no job verdict to alarm on.
          expect([unknown, rate], vendor).toEqual([[], []]);
          continue;
        }
        expect(unknown, vendor).toHaveLength(1);
        expect(unknown[0]).toMatchObject({
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        expect(rate, vendor).toHaveLength(1);
        expect(
          alarmMetrics(rate[0] ?? {})
            .map((m) => m.MetricName)
            .sort(),
        ).toEqual(['VendorJobFailed', 'VendorJobSucceeded']);
        expect(rate[0]).toMatchObject({
          Threshold: deployment.config.alarms.maxVendorRejectionPercent,
          ComparisonOperator: 'GreaterThanThreshold',
        });
      }
    });

    it('draws each route’s outcomes and the vendor’s row counts on the dashboard', () => {
      // The body is an Fn::Join of strings and tokens; its string parts carry the metric arrays.
      const text = (value: unknown): string =>
        typeof value === 'string'
          ? value
          : Array.isArray(value)
            ? value.map(text).join('')
            : value && typeof value === 'object'
              ? Object.values(value).map(text).join('')
              : '';
      const body = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'))
        .map((d) => text(d.Properties?.DashboardBody))
        .join('\n');
      for (const route of deployment.routes) {
        for (const name of [
          'DeliverySucceeded',
          'DeliveryFailed',
          'DeliveryNeedsAttention',
          'RowsAccepted',
          'RowsRejected',
        ])
          expect(body, `${route.id} ${name}`).toContain(`"${name}","Route","${route.id}"`);
      }
    });

    it('alarms at 80% of ClearTax’s daily token mint budget', () => {
      const found = alarmsOn(template, 'VendorIngest', 'TokenMintsToday', [
        { Name: 'Vendor', Value: 'cleartax' },
      ]);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        Threshold: 231, // ceil(0.8 × 288)
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    });

    it('publishes alarms to an encrypted, TLS-only topic', () => {
      // Prepare
      const topicId = id(stack.monitoring.alarmTopic);

      // Assess
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: getAtt(id(stack.messagingKey)) });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [ref(topicId)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              // CloudWatch publishes alarms to the topic; EventBridge delivers outcome events to topics.
              Principal: { Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com'] },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            }),
          ]),
        },
      });
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('builds one dashboard with the pipeline metrics per vendor, queues and functions', () => {
      // Act
      const dashboards = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
      const body = JSON.stringify(dashboards[0]?.Properties?.DashboardBody);

      // Assess
      expect(dashboards).toHaveLength(1);
      expect(dashboards[0]?.Properties?.DashboardName).toBe('vendor-ingest-dev');
      for (const metric of [
        'FilesReceived',
        'FilesUploaded',
        'FilesCompleted',
        'FilesFailed',
        'BytesUploaded',
        'UploadDurationMs',
        'Retries',
      ]) {
        expect(body).toContain(metric);
      }
      expect(body).toContain('bytes / (duration / 1000)');
      expect(body).toContain('p99');
      for (const vendor of vendors()) expect(body).toContain(vendor);
      for (const metric of [
        'ApproximateNumberOfMessagesVisible',
        'ApproximateAgeOfOldestMessage',
        'Throttles',
        'ConcurrentExecutions',
        'Duration',
      ]) {
        expect(body).toContain(metric);
      }
    });
  });

  describe('outputs', () => {
    it('publishes every name the local CLI needs under stable output names', () => {
      // Prepare
      const expected: Record<string, unknown> = {
        [StackOutput.IngestBucketName]: ref(id(stack.ingest.bucket)),
        [StackOutput.AccessLogBucketName]: ref(id(stack.ingest.accessLogBucket)),
        [StackOutput.StateTableName]: ref(id(stack.state.table)),
        [StackOutput.CompletionQueueUrl]: ref(id(stack.completionQueues.queue)),
        [StackOutput.CompletionDlqUrl]: ref(id(stack.completionQueues.deadLetterQueue)),
        [StackOutput.DispatchFunctionName]: ref(id(stack.dispatch.function)),
        [StackOutput.CompletionFunctionName]: ref(id(stack.completion.function)),
        [StackOutput.DispatchLogGroupName]: ref(id(stack.dispatch.logGroup)),
        [StackOutput.CompletionLogGroupName]: ref(id(stack.completion.logGroup)),
        [StackOutput.AlarmTopicArn]: ref(id(stack.monitoring.alarmTopic)),
        [StackOutput.DashboardName]: ref(id(stack.monitoring.dashboard)),
      };
      expected[StackOutput.Stage] = 'dev';
      expected[StackOutput.EventBusName] = 'default';
      expected[StackOutput.ResultsPrefix] = '_results/';
      expected[StackOutput.LedgerRetentionDays] = String(deployment.config.ledgerRetentionDays);
      // One policy for these few routes: CloudFormation's join of a single ARN is that ARN.
      expect(stack.operatorPolicies).toHaveLength(1);
      expected[StackOutput.OperatorPolicyArns] = ref(id(stack.operatorPolicies[0] as IConstruct));
      expected[StackOutput.Routes] = JSON.stringify(
        Object.fromEntries(deployment.routes.map((r) => [r.id, { prefix: r.prefix, vendor: r.vendor }])),
      );

      // Act
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;

      // Assess
      for (const [name, value] of Object.entries(expected)) expect(outputs[name]?.Value, name).toEqual(value);
      expect(Object.keys(outputs).sort()).toEqual(
        [...Object.keys(expected), StackOutput.DashboardUrl].sort(),
      );
      expect(JSON.stringify(outputs[StackOutput.DashboardUrl]?.Value)).toContain('#dashboards:name=');
    });
  });

  describe('cdk-nag', () => {
    it('finds nothing unacknowledged in AwsSolutions and Serverless', () => {
      // Assess
      expect(nagFindings(synth.app)).toEqual([]);
    });

    it('gives every acknowledgement a reason', () => {
      // Act
      const acknowledged = stack.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        .flatMap((m) => Object.entries(m.data as Record<string, string>));

      // Assess
      expect(acknowledged.length).toBeGreaterThan(0);
      for (const [rule, reason] of acknowledged) expect(reason.length, rule).toBeGreaterThan(60);
    });
  });
});
