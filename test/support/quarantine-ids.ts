import { createHash } from 'node:crypto';

/**
 * The quarantine id the writer must give tick `at` (index in the message, or row id) of a message with
 * this batch id and data, spelled out here apart from the writer's code: `<batch id>@<data hash>#<at>`.
 */
export function expectedTickQuarantineId(batchId: string, data: Buffer, at: number | string): string {
  return `${batchId}@${createHash('sha256').update(data).digest('base64url').slice(0, 22)}#${at}`;
}
