import type { Clock } from '../../../functions/core/ports.ts';

/** A Clock double the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public time = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}
