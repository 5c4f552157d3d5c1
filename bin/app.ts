#!/usr/bin/env -S npx tsx
import { createApp } from '../lib/app';
import { StageConfigError } from '../lib/config/stage-config';

/** `npx cdk synth|deploy -c stage=<name>` (default `dev`); other context keys: lib/app.ts. */
try {
  createApp();
} catch (error) {
  if (!(error instanceof StageConfigError)) throw error;
  // One readable list instead of a stack trace: every problem, then stop.
  console.error(error.message);
  process.exit(1);
}
