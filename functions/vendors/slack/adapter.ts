import { adapterFromSpec } from '../spec/engine';
import { slackSpec } from './spec';

/** Slack's external file upload, built from its spec. */
export const slackAdapter = adapterFromSpec(slackSpec);
