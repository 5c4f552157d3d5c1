import { Validations } from 'aws-cdk-lib';
import { ComparisonOperator, type Dashboard, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import {
  type AlarmWithAnnotation,
  DefaultDashboardFactory,
  MetricStatistic,
  type MetricWithAlarmSupport,
  MonitoringFacade,
  SnsAlarmActionStrategy,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { MetricName } from '../../functions/shared/observability';
import { METRICS_NAMESPACE } from '../naming';
import { secureTopicProps } from '../secure-defaults';
import type { QueueWithDlq } from './queue-with-dlq';

/**
 * Dimensions of a vendor's pipeline metrics. The functions publish each metric with exactly these
 * (they clear Powertools' default `service` dimension), and CloudWatch matches dimensions exactly.
 * `FilesFailed` has a second series with `Reason` too; alarms use the `Vendor`-only one.
 */
export function vendorDimensions(vendor: string): Record<string, string> {
  return { Vendor: vendor };
}

export interface MonitoredQueue {
  /** Short id for alarm names, e.g. `intake-cleartax-sales`. */
  readonly id: string;
  /** Dashboard title. */
  readonly title: string;
  readonly queues: QueueWithDlq;
}

export interface PipelineMonitoringProps {
  /** Prefix of alarm and dashboard names. */
  readonly namePrefix: string;
  /** Key encrypting the alarm topic; its policy must let CloudWatch use it. */
  readonly topicKey: IKey;
  /** Address subscribed to the alarm topic. @default no subscription */
  readonly alarmEmail?: string;
  readonly dispatchFunction: IFunction;
  readonly completionFunction: IFunction;
  readonly queues: readonly MonitoredQueue[];
  readonly table: ITable;
  /** Vendor names (the `Vendor` dimension). */
  readonly vendors: readonly string[];
  /** Alarm when a queue's oldest message is older than this. @default 3600 */
  readonly maxQueueAgeSeconds?: number;
  /** Alarm when a vendor's failed / (completed + failed) exceeds this, %. @default 5 */
  readonly maxFailureRatePercent?: number;
  /** Vendors whose jobs are polled for a verdict (a status API and a route that polls it). */
  readonly polledVendors?: readonly string[];
  /** Alarm when a polled vendor's failed jobs / (succeeded + failed) exceeds this, %. @default 10 */
  readonly maxVendorRejectionPercent?: number;
  /** Route ids: each gets its decided outcomes and the vendor's row counts on the dashboard. */
  readonly routes?: readonly string[];
  /** Vendors that mint tokens against a daily budget: their mint-count family and the budget. */
  readonly tokenMints?: readonly { readonly family: string; readonly dailyLimit: number }[];
}

/** The share of a daily token-mint budget at which the alarm fires. */
export const MINT_BUDGET_ALARM_SHARE = 0.8;

/**
 * Alarms (to one encrypted, TLS-only SNS topic) and the dashboard: every DLQ, queue age, both
 * functions' errors and throttles, and per vendor the pipeline's own delivery metrics.
 */
export class PipelineMonitoring extends Construct {
  public readonly alarmTopic: Topic;
  public readonly facade: MonitoringFacade;
  public readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      ...secureTopicProps(props.topicKey),
      displayName: `${props.namePrefix} alarms`,
    });
    if (props.alarmEmail) {
      const subscription = this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'The e-mail is a notification copy: alarm state and history stay in CloudWatch and on the dashboard, so an undeliverable e-mail loses nothing a dead-letter queue would keep.',
      });
    }

    const dashboards = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: props.namePrefix,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
    });
    this.facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: {
        alarmNamePrefix: props.namePrefix,
        actionsEnabled: true,
        action: new SnsAlarmActionStrategy({ onAlarmTopic: this.alarmTopic }),
        datapointsToAlarm: 1,
        evaluationPeriods: 1,
      },
      dashboardFactory: dashboards,
    });
    const dashboard = dashboards.createdDashboard();
    if (!dashboard) throw new Error('cdk-monitoring-constructs did not create the dashboard');
    this.dashboard = dashboard;

    this.facade.addLargeHeader(`Vendor ingest (${props.namePrefix})`);
    for (const vendor of props.vendors) this.monitorVendor(vendor, props.maxFailureRatePercent ?? 5);
    for (const vendor of props.polledVendors ?? [])
      this.monitorVendorJobs(vendor, props.maxVendorRejectionPercent ?? 10);
    if (props.routes?.length) this.monitorRouteOutcomes(props.routes);

    for (const [name, fn] of [
      ['dispatch', props.dispatchFunction],
      ['completion', props.completionFunction],
    ] as const) {
      this.facade.monitorLambdaFunction({
        lambdaFunction: fn,
        humanReadableName: `${name} function`,
        alarmFriendlyName: name,
        addFaultCountAlarm: { Errors: { maxErrorCount: 0 } },
        addThrottlesCountAlarm: { Throttles: { maxErrorCount: 0 } },
      });
    }

    for (const q of props.queues) {
      this.facade.monitorSqsQueueWithDlq({
        queue: q.queues.queue,
        deadLetterQueue: q.queues.deadLetterQueue,
        humanReadableName: q.title,
        alarmFriendlyName: q.id,
        addQueueMaxMessageAgeAlarm: { OldestMessage: { maxAgeInSeconds: props.maxQueueAgeSeconds ?? 3600 } },
        // Any dead-lettered message is a delivery that needs a person.
        addDeadLetterQueueMaxSizeAlarm: { DeadLetters: { maxMessageCount: 0 } },
      });
    }

    for (const mints of props.tokenMints ?? []) this.monitorTokenMints(mints.family, mints.dailyLimit);

    this.facade.monitorDynamoTable({ table: props.table, humanReadableName: 'State table' });
  }

  /** The day's token mints of a vendor family against its budget, alarmed at 80 % of it. */
  private monitorTokenMints(family: string, dailyLimit: number): void {
    const factory = this.facade.createMetricFactory();
    const mints = factory.createMetric(
      MetricName.TokenMintsToday,
      MetricStatistic.MAX,
      'Token mints today (UTC)',
      vendorDimensions(family),
      undefined,
      METRICS_NAMESPACE,
    );
    const threshold = Math.ceil(dailyLimit * MINT_BUDGET_ALARM_SHARE);
    this.facade.monitorCustom({
      humanReadableName: `Token mints: ${family}`,
      alarmFriendlyName: `${family}-token-mints`,
      metricGroups: [
        {
          title: `Mints today (budget ${dailyLimit})`,
          metrics: [
            {
              metric: mints,
              alarmFriendlyName: `${family}-mint-budget`,
              addAlarm: {
                MintBudget: {
                  threshold,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: `${family} tokens were minted ${threshold} or more times today (UTC), 80% of the ${dailyLimit} allowed; at the limit deliveries wait for the next day. Find what mints so often.`,
                },
              },
            },
          ],
        },
      ],
    });
  }

  /** Every alarm created, in creation order. */
  public get alarms(): AlarmWithAnnotation[] {
    return this.facade.createdAlarms();
  }

  private monitorVendor(vendor: string, maxFailureRatePercent: number): void {
    const factory = this.facade.createMetricFactory();
    const metric = (name: string, statistic: MetricStatistic, label: string): MetricWithAlarmSupport =>
      factory.createMetric(name, statistic, label, vendorDimensions(vendor), undefined, METRICS_NAMESPACE);

    const received = metric(MetricName.FilesReceived, MetricStatistic.SUM, 'Received');
    const uploaded = metric(MetricName.FilesUploaded, MetricStatistic.SUM, 'Uploaded');
    const completed = metric(MetricName.FilesCompleted, MetricStatistic.SUM, 'Completed');
    const failed = metric(MetricName.FilesFailed, MetricStatistic.SUM, 'Failed');
    const bytes = metric(MetricName.BytesUploaded, MetricStatistic.SUM, 'Bytes uploaded');
    const durationSum = metric(MetricName.UploadDurationMs, MetricStatistic.SUM, 'Upload time');
    const retries = metric(MetricName.Retries, MetricStatistic.SUM, 'Retries');
    const uncertain = metric(MetricName.CompletionUncertain, MetricStatistic.SUM, 'Completion uncertain');
    // Published 1 when a breaker of this vendor opens and 0 when it closes, nothing in between: the
    // alarm keeps its state through the silence (missing data ignored).
    const unavailable = metric(
      MetricName.VendorUnavailable,
      MetricStatistic.MAX,
      'Vendor unavailable (breaker open)',
    );

    const throughput = factory.createMetricMath(
      'IF(duration > 0, bytes / (duration / 1000), 0)',
      { bytes, duration: durationSum },
      'Upload throughput (bytes/s)',
    );
    const failureRate = factory.createMetricMath(
      'IF(FILL(completed, 0) + FILL(failed, 0) > 0, 100 * FILL(failed, 0) / (FILL(completed, 0) + FILL(failed, 0)), 0)',
      { completed, failed },
      'Failed deliveries (%)',
    );

    this.facade.monitorCustom({
      humanReadableName: `Vendor ${vendor}`,
      alarmFriendlyName: `vendor-${vendor}`,
      metricGroups: [
        { title: 'Files', metrics: [received, uploaded, completed, failed] },
        { title: 'Bytes uploaded', metrics: [bytes] },
        { title: 'Upload throughput', metrics: [throughput] },
        {
          title: 'Upload duration (ms)',
          metrics: [
            metric(MetricName.UploadDurationMs, MetricStatistic.P50, 'p50'),
            metric(MetricName.UploadDurationMs, MetricStatistic.P99, 'p99'),
          ],
        },
        {
          title: 'Retries and uncertain completions',
          metrics: [
            retries,
            {
              metric: uncertain,
              alarmFriendlyName: `${vendor}-completion-uncertain`,
              addAlarm: {
                CompletionUncertain: {
                  threshold: 1,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: `A ${vendor} completion call was sent but its outcome is unknown; check the vendor before retrying (a second trigger may ingest the file twice).`,
                },
              },
            },
          ],
        },
        {
          title: 'Circuit breaker (1 = open: files wait)',
          metrics: [
            {
              metric: unavailable,
              alarmFriendlyName: `${vendor}-unavailable`,
              addAlarm: {
                VendorUnavailable: {
                  threshold: 1,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.IGNORE,
                  alarmDescriptionOverride: `${vendor} failed repeatedly and its circuit breaker opened: files wait (re-enqueued, nothing lost) until a probe succeeds or the outage horizon passes. Clears when the breaker closes.`,
                },
              },
            },
          ],
        },
        {
          title: 'Failure rate',
          metrics: [
            {
              metric: failureRate,
              alarmFriendlyName: `${vendor}-failure-rate`,
              addAlarm: {
                FailureRate: {
                  threshold: maxFailureRatePercent,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: `More than ${maxFailureRatePercent}% of ${vendor} deliveries failed.`,
                },
              },
            },
          ],
        },
      ],
    });
  }

  /**
   * The vendor's own verdicts on its jobs (vendors with a status API): succeeded, failed (rows rejected
   * or the file discarded), unknown at the polling deadline. One alarm on the failed share and one on
   * any unknown verdict.
   */
  private monitorVendorJobs(vendor: string, maxRejectionPercent: number): void {
    const factory = this.facade.createMetricFactory();
    const metric = (name: string, label: string): MetricWithAlarmSupport =>
      factory.createMetric(
        name,
        MetricStatistic.SUM,
        label,
        vendorDimensions(vendor),
        undefined,
        METRICS_NAMESPACE,
      );
    const succeeded = metric(MetricName.VendorJobSucceeded, 'Jobs succeeded');
    const failed = metric(MetricName.VendorJobFailed, 'Jobs failed');
    const unknown = metric(MetricName.VendorStatusUnknown, 'Verdict unknown at the deadline');
    const rejection = factory.createMetricMath(
      'IF(FILL(succeeded, 0) + FILL(failed, 0) > 0, 100 * FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0)), 0)',
      { succeeded, failed },
      'Jobs the vendor failed (%)',
    );
    this.facade.monitorCustom({
      humanReadableName: `Vendor ${vendor}: its verdicts`,
      alarmFriendlyName: `vendor-${vendor}-jobs`,
      metricGroups: [
        {
          title: 'Vendor jobs',
          metrics: [
            succeeded,
            failed,
            {
              metric: unknown,
              alarmFriendlyName: `${vendor}-status-unknown`,
              addAlarm: {
                VendorStatusUnknown: {
                  threshold: 1,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: `A ${vendor} job was still running when status polling reached its deadline: the delivery ended VENDOR_STATUS_UNKNOWN (event Delivery Needs Attention). Look the job up at the vendor.`,
                },
              },
            },
          ],
        },
        {
          title: 'Vendor-side failure rate',
          metrics: [
            {
              metric: rejection,
              alarmFriendlyName: `${vendor}-vendor-failure-rate`,
              addAlarm: {
                VendorFailureRate: {
                  threshold: maxRejectionPercent,
                  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
                  treatMissingDataOverride: TreatMissingData.NOT_BREACHING,
                  alarmDescriptionOverride: `More than ${maxRejectionPercent}% of the files ${vendor} processed ended failed on its side (rows rejected or the file discarded): the producers' files, not the pipeline, need a look. Error files are under the results prefix.`,
                },
              },
            },
          ],
        },
      ],
    });
  }

  /** Per route: deliveries by decided outcome, and the rows the vendor accepted and rejected. */
  private monitorRouteOutcomes(routes: readonly string[]): void {
    const factory = this.facade.createMetricFactory();
    this.facade.addMediumHeader('Outcomes per route');
    for (const route of routes) {
      const metric = (name: string, label: string): MetricWithAlarmSupport =>
        factory.createMetric(
          name,
          MetricStatistic.SUM,
          label,
          { Route: route },
          undefined,
          METRICS_NAMESPACE,
        );
      this.facade.monitorCustom({
        humanReadableName: `Route ${route}`,
        alarmFriendlyName: `route-${route}`,
        metricGroups: [
          {
            title: 'Outcomes',
            metrics: [
              metric(MetricName.DeliverySucceeded, 'Succeeded'),
              metric(MetricName.DeliveryFailed, 'Failed'),
              metric(MetricName.DeliveryNeedsAttention, 'Needs attention'),
            ],
          },
          {
            title: 'Rows (as the vendor reports them)',
            metrics: [
              metric(MetricName.RowsAccepted, 'Accepted'),
              metric(MetricName.RowsRejected, 'Rejected'),
            ],
          },
        ],
      });
    }
  }
}
