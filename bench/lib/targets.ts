/** What a section's target evaluation returns; shared by the sections and the report (no import cycle). */
export type TargetStatus = 'met' | 'missed' | 'not measured';

export interface TargetResult {
  readonly id: string;
  readonly target: string;
  readonly status: TargetStatus;
  readonly detail: string;
}
