// Peak resident memory of service processes, sampled from /proc (Linux): the sum of VmRSS over the
// live members of each process group, the peak taken per group (per instance, not summed across them).
import { readFileSync } from 'node:fs';
import { liveGroupMembers } from '../local/process-group.ts';
import type { ServiceProcess } from '../local/service.ts';

/** VmRSS of process group `pgid` in KiB (0 when it is gone or /proc is unavailable). */
export function groupRssKb(pgid: number): number {
  let total = 0;
  for (const pid of liveGroupMembers(pgid)) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      total += Number(match?.[1] ?? 0);
    } catch {
      // exited between the listing and the read
    }
  }
  return total;
}

/** Samples every tracked service's process group until stopped; `peakMb` is the largest group seen. */
export class RssSampler {
  private readonly services = new Set<ServiceProcess>();
  private readonly peaks = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 500) {}

  track(service: ServiceProcess): void {
    this.services.add(service);
  }

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.sample();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  sample(): void {
    for (const service of this.services) {
      const pgid = service.processId;
      if (pgid === undefined || !service.running) continue;
      const kb = groupRssKb(pgid);
      this.peaks.set(pgid, Math.max(this.peaks.get(pgid) ?? 0, kb));
    }
  }

  /** Largest RSS any one tracked process group reached, in MiB (one decimal). */
  get peakMb(): number {
    return Math.round((Math.max(0, ...this.peaks.values()) / 1024) * 10) / 10;
  }
}
