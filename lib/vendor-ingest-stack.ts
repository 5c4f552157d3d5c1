import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnOutput, Duration, Fn, Stack, type StackProps, Stage, Validations } from 'aws-cdk-lib';
import { Grant, type IGrantable, type ManagedPolicy, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { EventType } from 'aws-cdk-lib/aws-s3';
import { SqsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BUNDLED_ROUTES_FILE } from '../functions/shared/deployment';
import { adapterFor } from '../functions/vendors/registry';
import {
  assertValidDeployment,
  type DeploymentConfig,
  intakeMaxConcurrency,
  visibilityTimeoutSeconds,
} from './config/deployment-config';
import { type FunctionSettings, PROJECT_ROOT } from './config/stage-config';
import { grantProducers, OperatorPolicy } from './constructs/access';
import { DeliveryEvents } from './constructs/delivery-events';
import { IngestBucket } from './constructs/ingest-bucket';
import { type MonitoredQueue, PipelineMonitoring } from './constructs/monitoring';
import { PipelineFunction } from './constructs/pipeline-function';
import { QueueWithDlq } from './constructs/queue-with-dlq';
import { StateTable } from './constructs/state-table';
import {
  acknowledgeBucketNotificationsHandler,
  acknowledgeKmsGrants,
  acknowledgeObjectPrefixReads,
} from './nag';
import { pascalCase } from './naming';
import {
  type CommonEnvironmentValues,
  completionEnvironment,
  dispatchEnvironment,
} from './pipeline-environment';
import { removalPolicyFor } from './secure-defaults';
import { StackOutput } from './stack-outputs';

export interface VendorIngestStackProps extends StackProps {
  /** The stage's settings and resolved routes (see `loadDeploymentConfig`). */
  readonly deployment: DeploymentConfig;
  /** Directory holding `functions/`, package-lock.json and tsconfig.json. @default the repository root */
  readonly projectRoot?: string;
}

/**
 * Files dropped in the ingest bucket are announced (per route prefix) on that route's intake queue;
 * the dispatch function uploads them to the vendor and queues a completion message; the completion
 * function tells the vendor the upload is done and follows its job. State lives in one table.
 */
export class VendorIngestStack extends Stack {
  public readonly deployment: DeploymentConfig;
  /** Customer-managed key of the ingest bucket and the state table, when the stage turns KMS on. */
  public readonly dataKey: Key | undefined;
  /**
   * Customer-managed key of the queues (when KMS is on) and always of the alarm topic (CloudWatch
   * cannot publish to a topic under the AWS-managed key). Separate from the data key because S3 must
   * be allowed to use it for notifications, which ties its policy to the bucket.
   */
  public readonly messagingKey: Key;
  public readonly ingest: IngestBucket;
  public readonly state: StateTable;
  /** One intake queue (and DLQ) per route, by route id. */
  public readonly intakeQueues: ReadonlyMap<string, QueueWithDlq>;
  public readonly completionQueues: QueueWithDlq;
  public readonly dispatch: PipelineFunction;
  public readonly completion: PipelineFunction;
  /** Each vendor secret the routes name, by secret id. */
  public readonly secrets: ReadonlyMap<string, ISecret>;
  public readonly monitoring: PipelineMonitoring;
  /** The outcome events' bus and the optional queues and topics fed from it. */
  public readonly events: DeliveryEvents;
  /** Attach them all to the operators' role or group: what the operator CLI and console call. */
  public readonly operatorPolicies: readonly ManagedPolicy[];

  constructor(scope: Construct, id: string, props: VendorIngestStackProps) {
    super(scope, id, props);
    const { deployment } = props;
    assertValidDeployment(deployment);
    this.deployment = deployment;
    const { stage, config, routes, names } = deployment;
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;

    const key = (keyId: string, purpose: string) =>
      new Key(this, keyId, {
        description: `vendor-ingest ${stage}: ${purpose}`,
        enableKeyRotation: true,
        removalPolicy: removalPolicyFor(config.retain),
        pendingWindow: Duration.days(7),
      });
    this.dataKey = config.kms ? key('DataKey', 'ingest bucket and state table') : undefined;
    this.messagingKey = config.kms
      ? key('MessagingKey', 'queues and alarm topic')
      : key('AlarmTopicKey', 'alarm topic');
    // CloudWatch publishes alarm notifications to the encrypted topic.
    this.messagingKey.grant(
      new ServicePrincipal('cloudwatch.amazonaws.com'),
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    );
    const queueKey = config.kms ? this.messagingKey : undefined;

    this.ingest = new IngestBucket(this, 'Ingest', {
      encryptionKey: this.dataKey,
      noncurrentVersionExpiration: Duration.days(config.noncurrentVersionExpiryDays),
      accessLogExpiration: Duration.days(config.logRetentionDays),
      retain: config.retain,
    });

    this.state = new StateTable(this, 'State', {
      tableName: names.stateTable,
      encryptionKey: this.dataKey,
      retain: config.retain,
    });

    const queueProps = (settings: FunctionSettings) => ({
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(settings)),
      maxReceiveCount: settings.maxReceiveCount,
      encryptionKey: queueKey,
    });
    this.completionQueues = new QueueWithDlq(this, 'CompletionQueue', {
      ...queueProps(config.completion),
      queueName: names.completionQueue,
      deadLetterQueueName: names.completionDeadLetterQueue,
    });
    const intake = new Map<string, QueueWithDlq>();
    for (const route of routes) {
      const queues = new QueueWithDlq(this, `Intake${pascalCase(route.id)}`, {
        ...queueProps(config.dispatch),
        queueName: names.intakeQueue(route.id),
        deadLetterQueueName: names.intakeDeadLetterQueue(route.id),
      });
      this.ingest.bucket.addEventNotification(EventType.OBJECT_CREATED, new SqsDestination(queues.queue), {
        prefix: route.filterPrefix,
      });
      intake.set(route.id, queues);
    }
    this.intakeQueues = intake;
    if (config.relaxedChecks) {
      for (const queues of [this.completionQueues, ...intake.values()]) {
        Validations.of(queues.queue).acknowledge({
          id: 'CloudFormation-Validate::E3505',
          reason:
            'relaxedChecks: a test variant whose visibility is shorter than the function timeout, so redeliveries overlap a running worker; AWS refuses it, the embedded AWS (the only place such a stage deploys) does not.',
        });
      }
    }

    this.events = new DeliveryEvents(this, 'Events', {
      ...(config.events.busName ? { busName: config.events.busName } : {}),
      stackName: this.stackName,
      namePrefix: names.prefix,
      queue: config.events.queue,
      routes: config.events.routes,
      topicKey: this.messagingKey,
      ...(queueKey ? { queueKey } : {}),
    });
    // EventBridge delivers to the encrypted topics (and queues, when KMS is on).
    this.messagingKey.grant(
      new ServicePrincipal('events.amazonaws.com'),
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    );

    const common: Omit<CommonEnvironmentValues, 'maxReceiveCount' | 'recordConcurrency'> = {
      stage,
      completionQueueUrl: this.completionQueues.queue.queueUrl,
      completionDlqUrl: this.completionQueues.deadLetterQueue.queueUrl,
      stateTableName: this.state.table.tableName,
      secretCacheSeconds: config.secretCacheSeconds,
      vendorTimeoutMs: config.vendorTimeoutMs,
      retryBaseSeconds: config.retryBaseSeconds,
      retryMaxSeconds: config.retryMaxSeconds,
      ledgerRetentionDays: config.ledgerRetentionDays,
      logLevel: config.logLevel,
      outage: config.outage,
      stallTimeoutSeconds: config.stallTimeoutSeconds,
      eventBusName: this.events.busName,
      stackName: this.stackName,
      results: config.results,
      statusPollFirstSeconds: config.statusPollFirstSeconds,
      statusPollMaxSeconds: config.statusPollMaxSeconds,
    };
    const routesFile = this.writeRoutesDocument(deployment);
    const functionProps = (settings: FunctionSettings) => ({
      projectRoot,
      memorySize: settings.memoryMb,
      timeout: Duration.seconds(settings.timeoutSeconds),
      logRetentionDays: config.logRetentionDays,
      retain: config.retain,
      packagedFiles: { [BUNDLED_ROUTES_FILE]: routesFile },
    });

    this.dispatch = new PipelineFunction(this, 'Dispatch', {
      ...functionProps(config.dispatch),
      entry: join(projectRoot, 'functions', 'dispatch', 'handler.ts'),
      functionName: names.dispatchFunction,
      description: `vendor-ingest ${stage}: uploads new objects to their vendor`,
      environment: dispatchEnvironment({
        ...common,
        maxReceiveCount: config.dispatch.maxReceiveCount,
        recordConcurrency: config.dispatch.recordConcurrency,
        completeInline: config.completeInline,
      }),
    });
    this.completion = new PipelineFunction(this, 'Completion', {
      ...functionProps(config.completion),
      entry: join(projectRoot, 'functions', 'completion', 'handler.ts'),
      functionName: names.completionFunction,
      description: `vendor-ingest ${stage}: completes uploads with the vendor and follows its job`,
      environment: completionEnvironment({
        ...common,
        maxReceiveCount: config.completion.maxReceiveCount,
        recordConcurrency: config.completion.recordConcurrency,
      }),
    });
    const dispatchFn = this.dispatch.function;
    const completionFn = this.completion.function;

    // Dispatch: read the routed objects, consume its intake queues, hand over to completion, park failures.
    this.ingest.grantReadObjects(
      dispatchFn,
      routes.map((r) => r.filterPrefix),
      { alsoTag: config.results.tagObjects },
    );
    for (const route of routes) {
      const queues = intake.get(route.id) as QueueWithDlq;
      this.dispatch.consume(queues.queue, {
        batchSize: config.dispatch.batchSize,
        maxBatchingWindow: batchingWindow(config.dispatch),
        maxConcurrency: intakeMaxConcurrency(config, route.id),
      });
      grantSend(queues.deadLetterQueue, dispatchFn);
      // A file waiting out a vendor outage is re-sent to its own intake queue with a delay.
      grantSend(queues.queue, dispatchFn);
    }
    grantSend(this.completionQueues.queue, dispatchFn);
    // A completion made at once and refused for good is parked where the completion function parks it.
    grantSend(this.completionQueues.deadLetterQueue, dispatchFn);

    // Completion: consume its queue, re-enqueue delayed status checks on it, park failures.
    this.completion.consume(this.completionQueues.queue, {
      batchSize: config.completion.batchSize,
      maxBatchingWindow: batchingWindow(config.completion),
      maxConcurrency: config.completion.maxConcurrency,
    });
    grantSend(this.completionQueues.queue, completionFn);
    grantSend(this.completionQueues.deadLetterQueue, completionFn);

    // Both: the state table, and every route's vendor secret (both call vendor APIs).
    const secrets = new Map<string, ISecret>();
    for (const secretId of [...new Set(routes.map((r) => r.secretId))].sort()) {
      const secretScopeId = `VendorSecret${pascalCase(secretId)}`;
      const secret = secretId.startsWith('arn:')
        ? Secret.fromSecretCompleteArn(this, secretScopeId, secretId)
        : Secret.fromSecretNameV2(this, secretScopeId, secretId);
      secrets.set(secretId, secret);
    }
    this.secrets = secrets;
    for (const fn of [dispatchFn, completionFn]) {
      this.state.grantStateAccess(fn);
      for (const secret of secrets.values()) grantSecretValue(secret, fn);
      // Both decide outcomes: they announce them and write them back.
      this.events.grantPut(fn);
      this.ingest.grantWriteBack(
        fn,
        config.results.prefix,
        routes.map((r) => r.filterPrefix),
        // Dispatch's read grant on the route prefixes carries the tag actions already.
        config.results.tagObjects && fn === completionFn,
      );
    }

    const monitored: MonitoredQueue[] = [
      ...routes.map((route) => ({
        id: `intake-${route.id}`,
        title: `Intake queue ${route.id}`,
        queues: intake.get(route.id) as QueueWithDlq,
      })),
      { id: 'completion', title: 'Completion queue', queues: this.completionQueues },
    ];
    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      namePrefix: names.prefix,
      topicKey: this.messagingKey,
      alarmEmail: config.alarmEmail,
      dispatchFunction: dispatchFn,
      completionFunction: completionFn,
      queues: monitored,
      table: this.state.table,
      vendors: [...new Set(routes.map((r) => r.vendor))].sort(),
      maxQueueAgeSeconds: config.alarms.maxQueueAgeSeconds,
      maxFailureRatePercent: config.alarms.maxFailureRatePercent,
      polledVendors: [
        ...new Set(routes.filter((r) => r.pollStatus && adapterFor(r.vendor)?.status).map((r) => r.vendor)),
      ].sort(),
      maxVendorRejectionPercent: config.alarms.maxVendorRejectionPercent,
      routes: routes.map((r) => r.id),
      tokenMints: tokenMintFamilies(routes.map((r) => r.vendor)),
    });

    acknowledgeObjectPrefixReads(
      this.dispatch,
      this.ingest,
      routes.map((r) => r.filterPrefix),
      (prefix) =>
        `Object access limited to route prefix "${prefix}": reads (GetObject, GetObjectVersion) and the outcome tags (Get/PutObjectVersionTagging); object keys are only known when files arrive.`,
    );
    acknowledgeObjectPrefixReads(
      this.completion,
      this.ingest,
      config.results.tagObjects ? routes.map((r) => r.filterPrefix) : [],
      (prefix) =>
        `The outcome tags (Get/PutObjectVersionTagging) on objects under route prefix "${prefix}"; object keys are only known when files arrive.`,
    );
    for (const fn of [this.dispatch, this.completion]) {
      acknowledgeObjectPrefixReads(
        fn,
        this.ingest,
        [config.results.prefix],
        (prefix) =>
          `Result documents and vendor error files (PutObject) under the results prefix "${prefix}" only, outside every route; their keys follow the delivered objects'.`,
      );
    }

    grantProducers(
      this.ingest.bucket,
      this.dataKey,
      routes.flatMap((route) => {
        const principals = config.producers[route.id];
        return principals ? [{ routeId: route.id, prefix: route.filterPrefix, principals }] : [];
      }),
    );
    this.operatorPolicies = new OperatorPolicy(this, 'Operators', {
      bucket: this.ingest.bucket,
      table: this.state.table,
      indexNames: [StateTable.GSI1, StateTable.GSI2],
      completion: this.completionQueues,
      routes: routes.map((route) => {
        const queues = intake.get(route.id) as QueueWithDlq;
        return { prefix: route.filterPrefix, queue: queues.queue, deadLetterQueue: queues.deadLetterQueue };
      }),
      keys: [this.dataKey, queueKey].filter((k): k is Key => k !== undefined),
      resultsPrefix: config.results.prefix,
      eventsQueue: this.events.queue?.queue,
    }).policies;
    for (const policy of this.operatorPolicies) {
      acknowledgeObjectPrefixReads(
        policy,
        this.ingest,
        routes.map((r) => r.filterPrefix),
        (prefix) =>
          `Operators drop files (PutObject, AbortMultipartUpload) under route prefix "${prefix}"; object keys are only known when files arrive.`,
      );
    }
    const [firstPolicy] = this.operatorPolicies;
    if (firstPolicy)
      acknowledgeObjectPrefixReads(
        firstPolicy,
        this.ingest,
        [config.results.prefix],
        (prefix) =>
          `Operators read result documents and vendor error files (GetObject) under the results prefix "${prefix}"; their keys follow the delivered files'.`,
      );
    acknowledgeBucketNotificationsHandler(this);
    if (config.kms) for (const fn of [this.dispatch, this.completion]) acknowledgeKmsGrants(fn);

    this.addOutputs(deployment);
  }

  /**
   * Writes the resolved-routes document into the cloud assembly directory, whence each function's
   * bundling copies it into the deployment package. Named by content, so identical documents share
   * a file and a changed one changes the asset hash.
   */
  private writeRoutesDocument(deployment: DeploymentConfig): string {
    const text = `${JSON.stringify(deployment.routesDocument, null, 2)}\n`;
    const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
    const dir = Stage.of(this)?.outdir ?? this.node.tryGetContext('outdir');
    if (typeof dir !== 'string')
      throw new Error('no cloud assembly directory to write the routes document to');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.stackName}.routes-${digest}.json`);
    writeFileSync(file, text);
    return file;
  }

  private addOutputs(deployment: DeploymentConfig): void {
    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output(StackOutput.Stage, deployment.stage, 'Stage this stack was synthesized for');
    output(StackOutput.IngestBucketName, this.ingest.bucket.bucketName, 'Bucket files are dropped in');
    output(
      StackOutput.AccessLogBucketName,
      this.ingest.accessLogBucket.bucketName,
      'Server access logs of the ingest bucket',
    );
    output(
      StackOutput.StateTableName,
      this.state.table.tableName,
      'Delivery ledger, vendor tokens, concurrency slots',
    );
    output(StackOutput.CompletionQueueUrl, this.completionQueues.queue.queueUrl, 'Completion queue');
    output(
      StackOutput.CompletionDlqUrl,
      this.completionQueues.deadLetterQueue.queueUrl,
      'Completion dead-letter queue',
    );
    // One short entry per route keeps the value small with many routes; queue names follow from the
    // stage, instance and route id (lib/naming.ts), their URLs from the completion queue's.
    output(
      StackOutput.Routes,
      JSON.stringify(
        Object.fromEntries(deployment.routes.map((r) => [r.id, { prefix: r.prefix, vendor: r.vendor }])),
      ),
      'Route id → { prefix, vendor } (JSON)',
    );
    if (deployment.instance)
      output(StackOutput.Instance, deployment.instance, 'Instance name of this copy of the stage');
    output(StackOutput.DispatchFunctionName, this.dispatch.function.functionName, 'Dispatch function');
    output(StackOutput.CompletionFunctionName, this.completion.function.functionName, 'Completion function');
    output(
      StackOutput.DispatchLogGroupName,
      this.dispatch.logGroup.logGroupName,
      'Log group of the dispatch function',
    );
    output(
      StackOutput.CompletionLogGroupName,
      this.completion.logGroup.logGroupName,
      'Log group of the completion function',
    );
    const dashboardName = this.monitoring.dashboard.dashboardName;
    output(StackOutput.DashboardName, dashboardName, 'CloudWatch dashboard');
    output(
      StackOutput.DashboardUrl,
      `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${dashboardName}`,
      'CloudWatch dashboard URL',
    );
    output(StackOutput.AlarmTopicArn, this.monitoring.alarmTopic.topicArn, 'SNS topic every alarm notifies');
    output(
      StackOutput.OperatorPolicyArns,
      Fn.join(
        ',',
        this.operatorPolicies.map((p) => p.managedPolicyArn),
      ),
      'Managed policies (comma-separated) with what the operator CLI and console call: attach them all',
    );
    output(StackOutput.EventBusName, this.events.busName, 'EventBridge bus of the delivery outcome events');
    output(
      StackOutput.ResultsPrefix,
      deployment.config.results.prefix,
      'Key prefix of result documents in the ingest bucket',
    );
    if (this.events.queue)
      output(
        StackOutput.EventsQueueUrl,
        this.events.queue.queue.queueUrl,
        'Queue receiving every outcome event',
      );
    for (const [routeId, q] of this.events.routeQueues)
      output(
        `${StackOutput.RouteEventsQueueUrlPrefix}${pascalCase(routeId)}`,
        q.queue.queueUrl,
        `Queue of ${routeId} outcome events`,
      );
    for (const [routeId, topic] of this.events.routeTopics)
      output(
        `${StackOutput.RouteEventsTopicArnPrefix}${pascalCase(routeId)}`,
        topic.topicArn,
        `Topic of ${routeId} outcome events`,
      );
    output(
      StackOutput.LedgerRetentionDays,
      String(deployment.config.ledgerRetentionDays),
      'Days a finished delivery stays in the ledger',
    );
  }
}

/** The token-mint budgets of the routes' vendors, one per family (both ClearTax flows share one). */
function tokenMintFamilies(vendors: readonly string[]): { family: string; dailyLimit: number }[] {
  const families = new Map<string, number>();
  for (const vendor of vendors) {
    const mint = adapterFor(vendor)?.tokenMint;
    if (mint) families.set(mint.family, mint.dailyLimit);
  }
  return [...families].sort().map(([family, dailyLimit]) => ({ family, dailyLimit }));
}

/** `MaximumBatchingWindowInSeconds`, omitted when 0. */
function batchingWindow(settings: FunctionSettings): Duration | undefined {
  return settings.batchWindowSeconds > 0 ? Duration.seconds(settings.batchWindowSeconds) : undefined;
}

/**
 * `sqs:SendMessage` on `queue`, and its key when encrypted: what the code calls (the queue URL comes from
 * the environment, so neither GetQueueUrl nor GetQueueAttributes is needed, unlike `grantSendMessages`).
 */
function grantSend(queue: IQueue, grantee: IGrantable): void {
  Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
  queue.encryptionMasterKey?.grantEncryptDecrypt(grantee);
}

/**
 * `secretsmanager:GetSecretValue` on a vendor secret, the only call the functions make (Powertools'
 * SecretsProvider); `grantRead` would add DescribeSecret. A secret named without its ARN matches any
 * version suffix (`-??????`), as `grantRead` does.
 */
function grantSecretValue(secret: ISecret, grantee: IGrantable): void {
  const arn = secret.secretFullArn ?? `${secret.secretArn}-??????`;
  Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [arn] });
  secret.encryptionKey?.grantDecrypt(grantee);
}
