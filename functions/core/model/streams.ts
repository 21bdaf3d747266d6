/** The kinds of market data tickstream records, named as tardis-dev names its normalized types. */
export const DATA_TYPES = [
  'trade',
  'book_ticker',
  'book_change',
  'derivative_ticker',
  'liquidation',
] as const;
export type DataType = (typeof DATA_TYPES)[number];

/** One recorded stream: an exchange, an instrument and a data type. */
export interface StreamKey {
  readonly exchange: string;
  readonly symbol: string;
  readonly type: DataType;
}

export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && (DATA_TYPES as readonly string[]).includes(value);
}

/** Stable identifier of a stream, used as Firestore document id and in logs: `binance:btcusdt:trade`. */
export function streamId(key: StreamKey): string {
  return `${key.exchange}:${key.symbol}:${key.type}`;
}

export function parseStreamId(id: string): StreamKey {
  const [exchange, symbol, type, ...rest] = id.split(':');
  if (!exchange || !symbol || !isDataType(type) || rest.length > 0) {
    throw new Error(`invalid stream id "${id}": expected exchange:symbol:type`);
  }
  return { exchange, symbol, type };
}
