import type { WriterHarness } from './writer-harness.ts';

/** One push to send to a writer and what it must answer. */
export interface PushCase {
  readonly kind: string;
  readonly body: unknown;
  readonly status: number;
  readonly rows: number;
  readonly quarantined: number;
}

export interface PushRun {
  readonly statuses: Map<number, number>;
  readonly kinds: Map<string, number>;
  /** One line per case whose answer differed from the expected one. */
  readonly mismatches: string[];
  readonly seconds: number;
}

/**
 * Posts every case to the writer with `concurrency` requests in flight and compares each answer. A 5xx is
 * posted again up to `retries` times, as Pub/Sub redelivers it; `statuses` counts every answer, retried ones too.
 */
export async function pushAll(
  h: WriterHarness,
  cases: readonly PushCase[],
  concurrency: number,
  retries = 0,
): Promise<PushRun> {
  const started = Date.now();
  const mismatches: string[] = [];
  const statuses = new Map<number, number>();
  const kinds = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < cases.length) {
        const index = next++;
        const c = cases[index]!;
        const body = c.body === undefined ? 'null' : c.body;
        let reply = await h.post(body);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        for (let attempt = 0; reply.status >= 500 && attempt < retries; attempt++) {
          reply = await h.post(body);
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        }
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
        const rows = Number(reply.body?.rows ?? 0);
        const quarantined = Number(reply.body?.quarantined ?? 0);
        if (reply.status !== c.status || rows !== c.rows || quarantined !== c.quarantined) {
          mismatches.push(
            `#${index} ${c.kind}: got ${reply.status} rows ${rows} quarantined ${quarantined} ` +
              `(${JSON.stringify(reply.body?.detail ?? reply.body?.error)}), want ${c.status} ${c.rows} ${c.quarantined}`,
          );
        }
      }
    }),
  );
  return { statuses, kinds, mismatches, seconds: (Date.now() - started) / 1000 };
}
