/**
 * Bench child: the baseline copy (see `baselineCopy`): the yardstick the real uploader is compared with.
 */
import { baselineCopy, measure, readInput, report, runMain } from './measure';
import type { BaselineWorkerInput, BaselineWorkerOutput } from './protocol';

runMain(async () => {
  const input = readInput<BaselineWorkerInput>();
  const { value, metrics } = await measure(() => baselineCopy(input.getUrl, input.put, input.size));
  const output: BaselineWorkerOutput = { ...metrics, bytes: input.size, status: value };
  report(output);
});
