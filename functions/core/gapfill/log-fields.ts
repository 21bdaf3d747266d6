import { streamId } from '../model/streams.ts';
import type { Gap } from './gaps.ts';

/** A gap as log fields (the same keys in every gap log line). */
export function gapFields(gap: Gap) {
  return {
    gapId: gap.id,
    stream: streamId(gap.stream),
    from: new Date(gap.from).toISOString(),
    to: new Date(gap.to).toISOString(),
    detectedBy: gap.detectedBy,
    state: gap.state,
    attempts: gap.attempts,
    reason: gap.reason,
  };
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
