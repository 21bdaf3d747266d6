/**
 * insertId de-duplication over a time window, per table, like BigQuery's best-effort streaming dedup.
 * Memory stays bounded: entries older than the window are pruned (oldest first, from a Map kept in
 * time order) and each table keeps at most `maxIdsPerTable` ids.
 */
export class InsertDedup {
  readonly #tables = new Map<string, Map<string, number>>();

  constructor(
    readonly windowMs: number,
    readonly maxIdsPerTable = 1_000_000,
  ) {}

  #prune(ids: Map<string, number>, now: number): void {
    const oldest = now - this.windowMs;
    for (const [id, seenAt] of ids) {
      if (seenAt > oldest && ids.size <= this.maxIdsPerTable) break;
      ids.delete(id);
    }
  }

  /** Whether a row with this insertId was stored in this table within the window. */
  seen(table: string, insertId: string, now: number): boolean {
    const ids = this.#tables.get(table);
    if (!ids) return false;
    const seenAt = ids.get(insertId);
    return seenAt !== undefined && seenAt > now - this.windowMs;
  }

  /** Remembers insertIds of rows just stored. */
  record(table: string, insertIds: Iterable<string>, now: number): void {
    let ids = this.#tables.get(table);
    if (!ids) {
      ids = new Map();
      this.#tables.set(table, ids);
    }
    for (const id of insertIds) {
      ids.delete(id); // keep the Map in time order
      ids.set(id, now);
    }
    this.#prune(ids, now);
  }

  /** Forgets a table (deleted or recreated). */
  dropTable(table: string): void {
    this.#tables.delete(table);
  }

  /** Forgets every table whose key starts with the prefix (a deleted dataset). */
  dropPrefix(prefix: string): void {
    for (const key of this.#tables.keys()) if (key.startsWith(prefix)) this.#tables.delete(key);
  }

  /** Drops expired entries everywhere; called on a timer. */
  pruneAll(now: number): void {
    for (const [table, ids] of this.#tables) {
      this.#prune(ids, now);
      if (ids.size === 0) this.#tables.delete(table);
    }
  }

  /** Number of insertIds held, for stats. */
  get size(): number {
    let total = 0;
    for (const ids of this.#tables.values()) total += ids.size;
    return total;
  }
}
