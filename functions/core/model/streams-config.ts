import { EXCHANGES, exchangeDescriptor, invalidSymbolReason, recordsDataType } from '../exchanges/index.ts';
import { DATA_TYPES, isDataType, type StreamKey } from './streams.ts';

/**
 * Parses the relay's stream list: entries separated by `;`, each `exchange:symbol[,symbol...]:type[,type...]`,
 * e.g. `binance:btcusdt,ethusdt:trade,book_ticker;coinbase:btc-usd:trade`. Symbols are lower-cased,
 * as tardis-dev normalizes them, and must have the exchange's symbol shape. Throws with the offending
 * entry named.
 */
export function parseStreamsConfig(raw: string): StreamKey[] {
  const out: StreamKey[] = [];
  const seen = new Set<string>();
  for (const entry of raw
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const parts = entry.split(':');
    if (parts.length !== 3) throw new Error(`stream entry "${entry}" must be exchange:symbols:types`);
    const [exchange, symbolList, typeList] = parts.map((p) => p.trim()) as [string, string, string];
    const descriptor = exchangeDescriptor(exchange);
    if (descriptor === undefined) {
      throw new Error(
        `stream entry "${entry}": unknown exchange "${exchange}" (one of ${Object.keys(EXCHANGES).join(', ')})`,
      );
    }
    const symbols = symbolList.split(',').map((s) => s.trim().toLowerCase());
    const types = typeList.split(',').map((t) => t.trim());
    for (const symbol of symbols) {
      const invalid = invalidSymbolReason(exchange, symbol);
      if (invalid !== undefined) throw new Error(`stream entry "${entry}": ${invalid}`);
    }
    for (const type of types) {
      if (!isDataType(type)) {
        throw new Error(
          `stream entry "${entry}": unknown data type "${type}" (one of ${DATA_TYPES.join(', ')})`,
        );
      }
      if (!recordsDataType(descriptor, type)) {
        throw new Error(`stream entry "${entry}": ${exchange} has no "${type}" feed`);
      }
      for (const symbol of symbols) {
        const key = `${exchange}:${symbol}:${type}`;
        if (seen.has(key)) throw new Error(`stream entry "${entry}": ${key} is listed twice`);
        seen.add(key);
        out.push({ exchange, symbol, type });
      }
    }
  }
  if (out.length === 0) throw new Error('no streams configured');
  return out;
}
